#include "decode/text.h"

#include <cmath>
#include <cstdint>

namespace paraserve {

bool is_cjk_token(std::string_view t) {
  if (t.size() != 3) return false;
  const auto b0 = static_cast<unsigned char>(t[0]);
  const auto b1 = static_cast<unsigned char>(t[1]);
  const auto b2 = static_cast<unsigned char>(t[2]);
  if ((b0 & 0xF0) != 0xE0 || (b1 & 0xC0) != 0x80 || (b2 & 0xC0) != 0x80) return false;
  const int cp = ((b0 & 0x0F) << 12) | ((b1 & 0x3F) << 6) | (b2 & 0x3F);
  return cp >= 0x4E00 && cp <= 0x9FFF;
}

void greedy_ids(const float* logits, int rows, int vocab, std::vector<int>& ids) {
  ids.clear();
  for (int r = 0; r < rows; ++r) {
    const float* row = logits + static_cast<size_t>(r) * static_cast<size_t>(vocab);
    float best = -INFINITY;
    int best_idx = -1;
    for (int k = 0; k < vocab; ++k) {
      if (row[k] > best) {  // strict: the first maximum wins
        best = row[k];
        best_idx = k;
      }
    }
    ids.push_back(best_idx);
  }
}

namespace {

bool in_range(int id, std::span<const std::string> tokens) {
  return id >= 0 && static_cast<size_t>(id) < tokens.size();
}

bool is_skipped(std::string_view t) { return t == "<s>" || t == "</s>" || t == "<unk>"; }

}  // namespace

void walk_token_words(std::span<const int> ids, std::span<const std::string> tokens,
                      WordSpacing spacing, std::string& out, std::vector<TokenWord>* words) {
  bool prev_english = false;
  size_t prev_english_len = 0;
  bool combining = false;
  size_t combine_first = 0;
  std::string combine;  // an open "@@" word
  std::string word;
  const size_t n = ids.size();
  for (size_t i = 0; i < n; ++i) {
    if (!in_range(ids[i], tokens)) continue;
    const std::string& tok = tokens[static_cast<size_t>(ids[i])];
    if (is_skipped(tok)) continue;
    word.assign(tok);
    size_t first = i;
    if (word.find("@@") != std::string::npos) {
      const bool next_cjk = i + 1 < n && in_range(ids[i + 1], tokens) &&
                            is_cjk_token(tokens[static_cast<size_t>(ids[i + 1])]);
      word.erase(word.size() - 2);  // FunASR drops the last two bytes, wherever "@@" is
      if (i + 1 == n || next_cjk) {
        // "lo@@ <cjk>" or "lo@@" at the end: the word ends here, with a trailing space.
        word += ' ';
        if (combining) {
          combine += word;
          combining = false;
          word.swap(combine);
          combine.clear();
          first = combine_first;
        }
      } else {
        if (!combining) combine_first = i;
        combine += word;
        combining = true;
        continue;
      }
    } else if (combining) {
      combine += word;
      combining = false;
      word.swap(combine);
      combine.clear();
      first = combine_first;
    }

    const bool cjk = is_cjk_token(word);
    if (cjk) {
      prev_english = false;
    } else {
      const bool space = spacing == WordSpacing::kAlways
                             ? prev_english
                             : prev_english && (prev_english_len > 1 || word.size() > 1);
      if (space) out += ' ';
      prev_english_len = word.size();
      prev_english = true;
    }
    out += word;
    if (words != nullptr) words->push_back({first, i, cjk});
  }
}

void append_ids_to_text(std::span<const int> ids, std::span<const std::string> tokens,
                        std::string& out) {
  walk_token_words(ids, tokens, WordSpacing::kVocabText, out, nullptr);
}

std::string ids_to_text(std::span<const int> ids, std::span<const std::string> tokens) {
  std::string out;
  append_ids_to_text(ids, tokens, out);
  return out;
}

}  // namespace paraserve
