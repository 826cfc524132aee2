// Token ids -> text, as FunASR's Vocab::Vector2StringV2 with language "zh-cn"
// (funasr-compat.md §5.1, vocab.cpp:164-278), and the greedy search over logits rows
// (§5.2, paraformer.cpp:351-373, util.cpp FindMax).
//
// The vocabulary is taken as the token list (index = id), e.g. `Vocab::tokens()`, so this
// layer does not depend on how tokens.json is loaded.
#pragma once
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace paraserve {

// FunASR's IsChinese: exactly 3 bytes of well-formed 3-byte UTF-8 in U+4E00..U+9FFF.
bool is_cjk_token(std::string_view token);

// Per-row argmax of a rows x vocab matrix; the first maximum wins (strict '>'), like
// FindMax. A row with no value > -inf (all NaN / -inf) yields -1, as FunASR's FindMax does.
// `ids` is cleared first; its capacity is reused.
void greedy_ids(const float* logits, int rows, int vocab, std::vector<int>& ids);

// How English words (anything that is not one CJK token) are separated in a token walk.
enum class WordSpacing {
  // Vocab::Vector2StringV2: after an English word a space, unless both words are 1 byte
  // (spelled letters are glued).
  kVocabText,
  // The timestamp PostProcess: a space between any two English words.
  kAlways,
};

// One word of a token walk: ids[first..last] (skipped tokens in between are not part of it).
struct TokenWord {
  size_t first = 0;
  size_t last = 0;
  bool cjk = false;
};

// FunASR's one rule for turning ids into words, shared by the text and the timestamp decode.
// Appends the text of `ids` to `out` and, if `words` is not null, appends one entry per word:
//  - `<s>`, `</s>`, `<unk>` are skipped; `<blank>` is not. Ids outside [0, tokens.size())
//    are skipped (FunASR would read out of bounds).
//  - a token containing "@@" loses its last two bytes and is glued to the following tokens
//    up to and including the next token without "@@"; if the "@@" token is the last id or
//    the next id is a CJK token, the word ends there with a trailing space. A word still
//    open at the end is dropped (as FunASR).
//  - CJK tokens are glued to their neighbours; English words after a CJK token get no space;
//    between two English words `spacing` decides.
void walk_token_words(std::span<const int> ids, std::span<const std::string> tokens,
                      WordSpacing spacing, std::string& out, std::vector<TokenWord>* words);

// Vector2StringV2 ("zh-cn"): walk_token_words with WordSpacing::kVocabText.
void append_ids_to_text(std::span<const int> ids, std::span<const std::string> tokens,
                        std::string& out);
std::string ids_to_text(std::span<const int> ids, std::span<const std::string> tokens);

}  // namespace paraserve
