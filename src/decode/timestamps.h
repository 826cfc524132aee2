// Token timestamps of the timestamp ("BiCIF") offline Paraformer, as FunASR's
// TimestampOnnx + PostProcess (util.cpp:720-963) and the second -> ms conversion of
// FunTpassInferBuffer (funasrruntime.cpp:571-581). funasr-compat.md §5.3.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/stream_types.h"

namespace paraserve {

// One stamp in seconds, relative to the segment start (FunASR's vector<float>{b, e}).
struct SecondStamp {
  float begin = 0.0f;
  float end = 0.0f;
};

// TimestampOnnx: per-token stamps (seconds) for `tokens_of_ids` (the greedy ids mapped to
// strings; a trailing "</s>" is ignored). The `<sil>` pieces are computed (they move the
// neighbouring bounds) but not returned, so entry i belongs to token i whenever the peak
// count matches. Returns fewer entries than tokens (or none) where FunASR gives up.
// us_alphas and us_cif_peak must have the same length (throws paraserve::Error otherwise).
std::vector<SecondStamp> cif_token_stamps(std::span<const float> us_alphas,
                                          std::span<const float> us_cif_peak,
                                          std::span<const int> ids,
                                          std::span<const std::string> tokens);

// FunASR's conversion of one PostProcess value to integer ms:
// (int)(1000 * (stof(to_string(sec)) + float(start_ms) / 1000.0)) with its float/double mix.
int64_t stamp_seconds_to_ms(float sec, int64_t segment_start_ms);

struct TimestampedText {
  std::string text;                // PostProcess text (English words always space-separated)
  std::vector<TokenStamp> stamps;  // absolute ms, one per CJK char / English word
  std::vector<SecondStamp> seconds;  // the same stamps as PostProcess's seconds (segment-relative)
};

// The whole offline-timestamp decode of one segment: ids are the greedy ids of all logits
// rows (including the final `</s>`). A token that FunASR would stamp from outside its stamp
// list (undefined behaviour there, only when the peak count is inconsistent) gets the last
// available stamp's end as both bounds (0 if none).
TimestampedText timestamped_text(std::span<const float> us_alphas,
                                 std::span<const float> us_cif_peak, std::span<const int> ids,
                                 std::span<const std::string> tokens, int64_t segment_start_ms);

}  // namespace paraserve
