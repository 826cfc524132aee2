#include "decode/offline_punc_stream.h"

namespace paraserve {

namespace {

using punc_index::kNotPunc;
using punc_index::kComma;
using punc_index::kPeriod;
using punc_index::kQuestion;
using punc_index::kDun;
constexpr std::size_t kTokenLen = static_cast<std::size_t>(Punctuator::kTokenLen);
constexpr std::size_t kPopTrigger = static_cast<std::size_t>(Punctuator::kCachePopTriggerLimit);

bool is_ascii(char c) { return (static_cast<unsigned char>(c) & 0x80) == 0; }

template <typename V>
std::size_t cap_bytes(const V& v) {
  return v.capacity() * sizeof(typename V::value_type);
}

}  // namespace

void OfflinePuncStream::tokenize_safe(bool all) {
  std::size_t cut = held_.size();
  if (!all) {
    // A trailing run of ASCII other than ' ' may continue in the next piece.
    while (cut > 0 && is_ascii(held_[cut - 1]) && held_[cut - 1] != ' ') --cut;
  }
  if (cut == 0) return;
  punc_.tokenizer().tokenize(std::string_view(held_).substr(0, cut), words_, ids_);
  held_.erase(0, cut);
}

void OfflinePuncStream::run_window(bool last, std::string& out) {
  const std::size_t n = last ? ids_.size() - first_ : kTokenLen;
  win_ids_.assign(remain_ids_.begin(), remain_ids_.end());
  win_words_.assign(remain_words_.begin(), remain_words_.end());
  win_ids_.insert(win_ids_.end(), ids_.begin() + static_cast<std::ptrdiff_t>(first_),
                  ids_.begin() + static_cast<std::ptrdiff_t>(first_ + n));
  for (std::size_t k = first_; k < first_ + n; ++k) win_words_.push_back(std::move(words_[k]));
  first_ += n;
  if (first_ == ids_.size() || first_ > 4 * kTokenLen) {
    words_.erase(words_.begin(), words_.begin() + static_cast<std::ptrdiff_t>(first_));
    ids_.erase(ids_.begin(), ids_.begin() + static_cast<std::ptrdiff_t>(first_));
    first_ = 0;
  }

  punc_.classify_offline(win_ids_, puncs_, logits_);
  std::size_t keep = puncs_.size();
  if (!last) {
    int sent_end = -1;
    int last_comma = -1;
    for (int k = static_cast<int>(puncs_.size()) - 2; k > 0; --k) {
      const int p = puncs_[static_cast<std::size_t>(k)];
      const std::string& m = punc_.mark(p);
      if (m == punc_.mark(kPeriod) || m == punc_.mark(kQuestion)) {
        sent_end = k;
        break;
      }
      if (last_comma < 0 && m == punc_.mark(kComma)) last_comma = k;
    }
    if (sent_end < 0 && win_words_.size() > kPopTrigger && last_comma > 0) {
      sent_end = last_comma;
      puncs_[static_cast<std::size_t>(sent_end)] = kPeriod;
    }
    keep = static_cast<std::size_t>(sent_end + 1);
    if (win_words_.size() - keep > kMaxCarry) keep = win_words_.size();  // see the header
    remain_ids_.assign(win_ids_.begin() + static_cast<std::ptrdiff_t>(keep), win_ids_.end());
    remain_words_.clear();
    for (std::size_t k = keep; k < win_words_.size(); ++k) remain_words_.push_back(std::move(win_words_[k]));
  }
  for (std::size_t k = 0; k < keep; ++k) {
    if (k > 0 && is_ascii(win_words_[k - 1][0]) && is_ascii(win_words_[k][0])) out += ' ';
    out += win_words_[k];
    if (puncs_[k] != kNotPunc) out += punc_.mark(puncs_[k]);
  }
  if (last && keep > 0) {
    // The text always ends a sentence: a final ，/、 becomes 。, otherwise 。 is added unless
    // it already ends in 。/？ (compared as strings, like FunASR's NewString.back()).
    const int p = puncs_[keep - 1];
    const std::string& m = p != kNotPunc ? punc_.mark(p) : win_words_[keep - 1];
    if (m == punc_.mark(kComma) || m == punc_.mark(kDun)) {
      out.resize(out.size() - m.size());
      out += punc_.mark(kPeriod);
    } else if (m != punc_.mark(kPeriod) && m != punc_.mark(kQuestion)) {
      out += punc_.mark(kPeriod);
    }
  }
}

void OfflinePuncStream::add(std::string_view text, std::string& out) {
  held_.append(text);
  tokenize_safe(false);
  while (ids_.size() - first_ > kTokenLen) run_window(false, out);
}

void OfflinePuncStream::finish(std::string& out) {
  tokenize_safe(true);
  while (ids_.size() - first_ > kTokenLen) run_window(false, out);
  if (ids_.size() > first_) run_window(true, out);
  held_.clear();
  words_.clear();
  ids_.clear();
  first_ = 0;
  remain_words_.clear();
  remain_ids_.clear();
}

std::size_t OfflinePuncStream::state_bytes() const {
  std::size_t b = held_.capacity() + cap_bytes(words_) + cap_bytes(ids_) + cap_bytes(remain_words_) +
                  cap_bytes(remain_ids_) + cap_bytes(win_words_) + cap_bytes(win_ids_) + cap_bytes(puncs_) +
                  cap_bytes(logits_);
  for (const auto& w : words_) b += w.capacity();
  for (const auto& w : remain_words_) b += w.capacity();
  return b;
}

}  // namespace paraserve
