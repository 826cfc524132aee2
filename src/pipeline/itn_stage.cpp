#include "pipeline/itn_stage.h"

#include <algorithm>

#include "decode/stamp_sents.h"
#include "text/itn_stamps.h"

namespace paraserve {

bool apply_itn(const InverseTextNormalizer& itn, std::string& text, std::vector<TokenStamp>& stamps) {
  std::string normalised;
  if (!itn.normalize(text, normalised)) return false;
  if (!stamps.empty()) {
    std::vector<TokenStamp> smoothed;
    if (smooth_itn_stamps(text, normalised, stamps, smoothed)) stamps.swap(smoothed);
  }
  text.swap(normalised);
  return true;
}

namespace {

// End of the last sentence in `text` (just after its last 。 or ？, or with `soft` also ， 、), or 0.
std::size_t sentence_end(std::string_view text, bool soft) {
  std::size_t end = 0;
  for (std::string_view p : {"。", "？"}) {
    const auto at = text.rfind(p);
    if (at != std::string_view::npos) end = std::max(end, at + p.size());
  }
  if (soft && end == 0)
    for (std::string_view p : {"，", "、"}) {
      const auto at = text.rfind(p);
      if (at != std::string_view::npos) end = std::max(end, at + p.size());
    }
  return end;
}

}  // namespace

bool ItnTextStream::take(bool eof, std::string& text, std::vector<TokenStamp>& stamps) {
  text.clear();
  stamps.clear();
  if (held_.empty()) return false;
  std::size_t cut = eof ? held_.size() : sentence_end(held_, held_.size() > kMaxHeld);
  if (cut == 0 && held_.size() > 4 * kMaxHeld) cut = held_.size();  // no punctuation at all
  if (cut == 0) return false;
  const std::string_view piece = std::string_view(held_).substr(0, cut);
  std::size_t words = 0;
  if (has_stamps_) {
    split_stamp_units(piece, units_);
    words = static_cast<std::size_t>(
        std::count_if(units_.begin(), units_.end(), [](const std::string& u) { return !is_stamp_punctuation(u); }));
    if (!eof && words > stamps_.size()) return false;  // wait for the stamps of later segments
    // At the end every stamp left goes with the last piece (FunASR aligns the whole list).
    const std::size_t n = eof ? stamps_.size() : words;
    stamps.assign(stamps_.begin(), stamps_.begin() + static_cast<std::ptrdiff_t>(n));
    stamps_.erase(stamps_.begin(), stamps_.begin() + static_cast<std::ptrdiff_t>(n));
  }
  text.assign(piece);
  held_.erase(0, cut);
  apply_itn(itn_, text, stamps);
  return true;
}

}  // namespace paraserve
