// The offline (second-pass) recognition of one whole segment: fbank -> LFR (offline form)
// -> CMVN -> offline Paraformer -> greedy ids -> text, or the timestamp path
// (funasr-compat.md §3.4, §5.1-5.3). Shared by the 2pass session and `paraserve transcribe`.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "decode/timestamps.h"
#include "lm/wfst_search.h"
#include "models/paraformer_offline.h"
#include "pipeline/results.h"

namespace paraserve {

struct Engine;
namespace lm {
class BiasLm;
}

// Per-utterance options of the offline pass (FunASR's svs_lang / svs_itn message fields,
// defaults "auto" / true); used only by SenseVoiceSmall.
struct OfflineAsrOptions {
  std::string svs_lang = "auto";
  bool svs_itn = true;
};

struct OfflineAsrResult {
  std::string text;                  // raw (unpunctuated) text
  // false for SenseVoiceSmall: its text (with its tags) is the reply as it is; FunASR's 2pass
  // punctuates and appends the final 。 only for Paraformer (FunTpassInferBuffer).
  bool punctuate = true;
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

// Every segment-sized buffer of one offline pass. Borrowed per segment from the engine's
// pool (Engine::offline_scratch), so the buffers keep their pages between segments and
// sessions instead of being allocated and returned to the OS per segment (issue 9).
struct OfflineScratch {
  std::vector<float> segment;  // the segment's samples (filled by the caller)
  std::vector<float> scaled, fbank, lfr;
  OfflineOutput output;
  std::vector<int> ids;
  lm::WfstSearch search;  // LM search state (only with an LM); trimmed after each segment
  std::vector<std::string> pieces;  // LM words split into characters / English words (timestamps)
  std::size_t bytes() const;
};

// The model and front end are the engine's; all buffers are the caller's scratch.
class OfflineAsr {
 public:
  // Throws if the engine has no offline model.
  explicit OfflineAsr(const Engine& engine, const OfflineAsrOptions& options = {});
  // samples: 16 kHz floats in [-1,1) (may be scratch.segment). segment_start_ms: FunASR's
  // frame->global_start. With an LM (engine config lm_dir) the search replaces greedy
  // decoding; `bias` (hotwords, see Engine::hotword_bias) biases it and is ignored without one.
  void recognize(std::span<const float> samples, int64_t segment_start_ms, OfflineScratch& scratch,
                 OfflineAsrResult& out, const lm::BiasLm* bias = nullptr) const;
 private:
  void decode_with_lm(int64_t segment_start_ms, OfflineScratch& scratch, OfflineAsrResult& out,
                      const lm::BiasLm* bias) const;
  const Engine& engine_;
  int svs_language_ = 0, svs_textnorm_ = 14;  // SenseVoiceSmall's language / textnorm inputs
};

}  // namespace paraserve
