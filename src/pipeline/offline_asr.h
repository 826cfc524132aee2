// The offline (second-pass) recognition of one whole segment: fbank -> LFR (offline form)
// -> CMVN -> offline Paraformer -> greedy ids -> text, or the timestamp path
// (funasr-compat.md §3.4, §5.1-5.3). Shared by the 2pass session and `paraserve transcribe`.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "decode/timestamps.h"
#include "models/paraformer_offline.h"
#include "pipeline/results.h"

namespace paraserve {

struct Engine;

struct OfflineAsrResult {
  std::string text;                  // raw (unpunctuated) text
  bool has_timestamps = false;       // the model is the timestamp variant
  std::vector<TokenStamp> stamps;    // absolute ms (segment_start_ms added)
  std::vector<SecondStamp> stamp_seconds;  // the same, PostProcess's segment-relative seconds
};

// funasr-onnx-offline's conversion of a segment-relative stamp to absolute ms
// (FunOfflineInfer, funasrruntime.cpp): the segment start is a float number of seconds
// (start sample / 16000, in float), added to stof(to_string(sec)) in float, then
// (int)(1000 * sum). The 2pass server's conversion (stamp_seconds_to_ms) divides the start in
// ms by 1000.0 in double instead, so the two often differ by 1 ms.
int64_t offline_stamp_ms(float sec, int64_t segment_start_sample);

// Per-session / per-worker scratch; the model and front end are the engine's.
class OfflineAsr {
 public:
  explicit OfflineAsr(const Engine& engine);  // throws if the engine has no offline model
  // samples: 16 kHz floats in [-1,1). segment_start_ms: FunASR's frame->global_start.
  void recognize(std::span<const float> samples, int64_t segment_start_ms, OfflineAsrResult& out);
  // Frees the scratch (sized by the longest segment so far); the session calls it after
  // each segment so idle sessions do not keep segment-sized buffers.
  void release();
  std::size_t state_bytes() const;

 private:
  const Engine& engine_;
  std::vector<float> scaled_, fbank_, lfr_;
  OfflineOutput output_;
  std::vector<int> ids_;
};

}  // namespace paraserve
