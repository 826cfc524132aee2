#include "decode/punctuator.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace paraserve {

namespace {

using punc_index::kNotPunc;
using punc_index::kComma;
using punc_index::kPeriod;
using punc_index::kQuestion;
using punc_index::kDun;
constexpr std::string_view kNotPuncMark = "_";

bool is_ascii(char c) { return (static_cast<unsigned char>(c) & 0x80) == 0; }

// Byte length of the UTF-8 character starting with `lead`: its count of leading 1 bits
// (at most 6), 1 for an ASCII or continuation byte alone. CTokenizer::SplitChineseString.
size_t utf8_len(char lead) {
  const auto b = static_cast<unsigned char>(lead);
  size_t len = 1;
  for (int j = 0; j < 6 && (b & (0x80u >> j)); ++j) len = static_cast<size_t>(j) + 1;
  return len;
}

}  // namespace

PuncTokenizer::PuncTokenizer(std::span<const std::string> vocab_tokens) {
  ids_.reserve(vocab_tokens.size());
  for (size_t i = 0; i < vocab_tokens.size(); ++i) {
    ids_[vocab_tokens[i]] = static_cast<int32_t>(i);  // duplicates: the last id wins
  }
  // FunASR looks `<unk>` up with operator[], which yields 0 when it is absent.
  const auto it = ids_.find("<unk>");
  unk_id_ = it == ids_.end() ? 0 : it->second;
}

int PuncTokenizer::lookup(std::string_view word) const {
  std::string key(word);
  for (char& c : key) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  const auto it = ids_.find(key);
  return it == ids_.end() ? unk_id_ : it->second;
}

void PuncTokenizer::tokenize(std::string_view text, std::vector<std::string>& words,
                             std::vector<int32_t>& ids) const {
  const size_t first_new = words.size();
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t sp = text.find(' ', pos);
    if (sp == std::string_view::npos) sp = text.size();
    const std::string_view piece = text.substr(pos, sp - pos);
    size_t i = 0;
    while (i < piece.size()) {
      if (is_ascii(piece[i])) {
        size_t j = i;
        while (j < piece.size() && is_ascii(piece[j])) ++j;
        words.emplace_back(piece.substr(i, j - i));
        i = j;
      } else {
        size_t j = i;
        while (j < piece.size() && !is_ascii(piece[j])) ++j;
        // Split the non-ASCII run into characters; a length may run past the run's end
        // only when the text is malformed, and is then clamped to it (substr semantics).
        while (i < j) {
          const size_t len = std::min(utf8_len(piece[i]), j - i);
          words.emplace_back(piece.substr(i, len));
          i += len;
        }
      }
    }
    pos = sp + 1;
  }
  for (size_t k = first_new; k < words.size(); ++k) ids.push_back(lookup(words[k]));
}

void punc_vad_mask(int L, int cache_len, std::vector<float>& mask) {
  const size_t n = static_cast<size_t>(std::max(L, 0));
  mask.assign(n * n, 1.0f);
  if (cache_len <= 0 || cache_len >= L) return;
  // Cached words except the last may not attend to the new words.
  for (int i = 0; i < cache_len - 1; ++i) {
    for (int j = cache_len; j < L; ++j) mask[static_cast<size_t>(i) * n + static_cast<size_t>(j)] = 0.0f;
  }
}

Punctuator::Punctuator(const PuncRunner& runner, std::span<const std::string> vocab_tokens,
                       std::vector<std::string> punc_list)
    : runner_(runner), tokenizer_(vocab_tokens), punc_list_(std::move(punc_list)) {
  if (punc_list_.size() < 6) {
    throw Error("punctuation config.yaml: model_conf.punc_list has " +
                std::to_string(punc_list_.size()) +
                " entries, expected at least 6 (<unk>, _, ，, 。, ？, 、)");
  }
  const int classes = runner_.num_classes();
  if (classes < 2 || static_cast<size_t>(classes) > punc_list_.size() + 1) {
    throw Error("punctuation model: " + std::to_string(classes) +
                " output classes, expected between 2 and " +
                std::to_string(punc_list_.size() + 1) + " (model_conf.punc_list)");
  }
}

void Punctuator::infer(std::span<const int32_t> ids, int cache_len, bool with_mask,
                       std::vector<int>& out, std::vector<float>& logits,
                       std::vector<float>& mask) const {
  const int L = static_cast<int>(ids.size());
  const float* m = nullptr;
  if (with_mask) {
    punc_vad_mask(L, cache_len, mask);
    m = mask.data();
  }
  runner_.run(ids, m, logits);
  const size_t classes = static_cast<size_t>(runner_.num_classes());
  if (logits.size() != ids.size() * classes) {
    throw Error("punctuation model: got " + std::to_string(logits.size()) + " logits for " +
                std::to_string(ids.size()) + " tokens, expected tokens x " +
                std::to_string(classes));
  }
  out.clear();
  for (size_t r = 0; r < ids.size(); ++r) {
    const float* row = logits.data() + r * classes;
    // FunASR's end pointer excludes the last class, so 、 is never predicted.
    out.push_back(static_cast<int>(std::max_element(row, row + classes - 1) - row));
  }
}

void Punctuator::run_windows(std::string_view text, int cache_len, bool with_mask,
                             Sentences& out) const {
  std::vector<std::string> all_words;
  std::vector<int32_t> all_ids;
  tokenizer_.tokenize(text, all_words, all_ids);

  const size_t total = all_ids.size();
  const int total_batches = static_cast<int>(std::ceil(static_cast<float>(total) / kTokenLen));
  std::vector<int32_t> win_ids, remain_ids;
  std::vector<std::string> win_words, remain_words;
  std::vector<int> puncs;
  std::vector<float> logits, mask;
  for (size_t i = 0; i < total; i += kTokenLen) {
    const size_t end = std::min(total, i + kTokenLen);
    win_ids.assign(remain_ids.begin(), remain_ids.end());
    win_ids.insert(win_ids.end(), all_ids.begin() + static_cast<std::ptrdiff_t>(i),
                   all_ids.begin() + static_cast<std::ptrdiff_t>(end));
    win_words.assign(remain_words.begin(), remain_words.end());
    win_words.insert(win_words.end(), all_words.begin() + static_cast<std::ptrdiff_t>(i),
                     all_words.begin() + static_cast<std::ptrdiff_t>(end));

    // FunASR masks every window with the cache's word count, not only the first one.
    infer(win_ids, cache_len, with_mask, puncs, logits, mask);
    size_t keep = puncs.size();
    if (static_cast<int>(i / kTokenLen) < total_batches - 1) {
      // Not the last window: keep up to its last 。/？ (searched in [1, L-2]) and carry the
      // rest into the next window.
      int sent_end = -1;
      int last_comma = -1;
      for (int k = static_cast<int>(puncs.size()) - 2; k > 0; --k) {
        const std::string& p = punc(puncs[static_cast<size_t>(k)]);
        if (p == punc(kPeriod) || p == punc(kQuestion)) {
          sent_end = k;
          break;
        }
        if (last_comma < 0 && p == punc(kComma)) last_comma = k;
      }
      if (sent_end < 0 && win_words.size() > kCachePopTriggerLimit && last_comma > 0) {
        sent_end = last_comma;  // a very long run without a full stop: end it at its last comma
        puncs[static_cast<size_t>(sent_end)] = kPeriod;
      }
      keep = static_cast<size_t>(sent_end + 1);
      remain_ids.assign(win_ids.begin() + static_cast<std::ptrdiff_t>(keep), win_ids.end());
      remain_words.assign(win_words.begin() + static_cast<std::ptrdiff_t>(keep), win_words.end());
    }
    if (keep > 0) out.starts.push_back(out.words.size());
    for (size_t k = 0; k < keep; ++k) {
      out.words.push_back(std::move(win_words[k]));
      out.puncs.push_back(puncs[k]);
    }
  }
}

std::string Punctuator::punctuate_realtime(std::string_view text,
                                           std::vector<std::string>& cache) const {
  std::string full;
  for (const std::string& w : cache) full += w;
  // ASCII at the end of the cache and at the start of the text: keep the words apart.
  if (!full.empty() && is_ascii(full.back()) && !text.empty() && is_ascii(text.front())) {
    full += ' ';
  }
  full += text;

  const int cache_len = static_cast<int>(cache.size());
  Sentences s;
  run_windows(full, cache_len, /*with_mask=*/true, s);
  std::vector<std::string>& words = s.words;

  std::string out;
  size_t last_elem = std::string::npos;  // offset of the last element appended to `out`
  auto append = [&](const std::string& e) {
    last_elem = out.size();
    out += e;
  };
  int skipped = 0;
  for (size_t i = 0; i < words.size(); ++i) {
    if (is_ascii(words[i][0]) && i + 1 < words.size() && is_ascii(words[i + 1][0])) {
      words[i] += ' ';
    }
    // The cached words were output last time: skip them, but not the punctuation of the
    // last of them (it was removed as trailing punctuation then).
    if (skipped < cache_len) {
      ++skipped;
    } else {
      append(words[i]);
    }
    if (skipped >= cache_len) {
      const std::string& p = punc(s.puncs[i]);
      if (p != kNotPuncMark) append(p);
    }
  }

  // New cache: the words after the last 。/？ (searched in [1, n-2], by class index).
  int sent_end = -1;
  for (int k = static_cast<int>(s.puncs.size()) - 2; k > 0; --k) {
    const int p = s.puncs[static_cast<size_t>(k)];
    if (p == kPeriod || p == kQuestion) {
      sent_end = k;
      break;
    }
  }
  // Bound the cache: FunASR's comma rule (a run of more than kCachePopTriggerLimit words ends
  // at its last comma) applied to the cache, and the oldest words dropped if that is not enough.
  const size_t n = words.size();
  size_t cache_from = static_cast<size_t>(sent_end + 1);
  if (n - cache_from > kMaxCacheWords) {
    size_t cut = n - kMaxCacheWords;
    for (size_t k = n - 1; k-- > cut - 1;) {  // last comma in [cut - 1, n - 2]
      if (s.puncs[k] == kComma) {
        cut = k + 1;
        break;
      }
    }
    cache_from = cut;
  }
  cache.assign(std::make_move_iterator(words.begin() + static_cast<std::ptrdiff_t>(cache_from)),
               std::make_move_iterator(words.end()));

  // One trailing punctuation element is dropped (the next call outputs it, see above).
  if (last_elem != std::string::npos) {
    const std::string_view last(out.data() + last_elem, out.size() - last_elem);
    if (std::find(punc_list_.begin(), punc_list_.end(), last) != punc_list_.end()) {
      out.resize(last_elem);
    }
  }
  return out;
}

std::string Punctuator::punctuate_offline(std::string_view text) const {
  Sentences s;
  run_windows(text, 0, /*with_mask=*/false, s);

  std::vector<std::string> elems;  // words (with their leading spaces) and marks
  size_t next_start = 0;
  for (size_t i = 0; i < s.words.size(); ++i) {
    const bool first_of_window = next_start < s.starts.size() && s.starts[next_start] == i;
    if (first_of_window) ++next_start;
    // Spaces only between ASCII words of the same kept window (FunASR's quirk).
    if (!first_of_window && is_ascii(s.words[i - 1][0]) && is_ascii(s.words[i][0])) {
      s.words[i].insert(s.words[i].begin(), ' ');
    }
    elems.push_back(s.words[i]);
    if (s.puncs[i] != kNotPunc) elems.push_back(punc(s.puncs[i]));
  }

  if (!elems.empty()) {
    // The text always ends a sentence: a final ，/、 becomes 。, otherwise 。 is added unless
    // it already ends in 。/？.
    const std::string& last = elems.back();
    if (last == punc(kComma) || last == punc(kDun)) {
      elems.back() = punc(kPeriod);
    } else if (last != punc(kPeriod) && last != punc(kQuestion)) {
      elems.push_back(punc(kPeriod));
    }
  }
  std::string out;
  for (const std::string& e : elems) out += e;
  return out;
}

}  // namespace paraserve
