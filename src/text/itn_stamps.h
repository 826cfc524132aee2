// Token timestamps after ITN, as FunASR's TimestampSmooth (util.cpp; funasr-compat.md §5.5),
// which its runtime applies whenever ITN ran and the text has timestamps
// (FunTpassInferBuffer for 2pass-offline/offline replies, FunOfflineInfer for files):
//   - both texts are split into stamp units (split_stamp_units: CJK characters, digits and
//     punctuation one by one, other runs as words);
//   - an edit-distance alignment is computed and traced back; punctuation units (the
//     byte-wise test of is_stamp_punctuation) are left out of the aligned lists;
//   - aligned equal units keep their stamps; each run of changed units takes the span of the
//     stamps it replaces (or of the next kept stamp when it replaced nothing) and spreads it
//     evenly over its normalised units: interval = span / count in integer ms, the last unit
//     ending exactly at the span end. A run at the very end with nothing replaced borrows the
//     previous stamp.
// Any inconsistency (more units than stamps, a result whose length differs from the
// normalised unit count, no stamp at all) fails; FunASR then logs and keeps the original stamps, and so do the
// callers here. Where FunASR would read past the end of its shorter aligned list (undefined
// behaviour; possible when punctuation aligns with a word), this fails instead.
#pragma once
#include <span>
#include <string_view>
#include <vector>

#include "common/stream_types.h"

namespace paraserve {

// `out` = the stamps of text_itn's units; false (out unspecified) where FunASR's smoothing fails.
bool smooth_itn_stamps(std::string_view text, std::string_view text_itn, std::span<const TokenStamp> stamps,
                       std::vector<TokenStamp>& out);

}  // namespace paraserve
