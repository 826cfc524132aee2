// Token ids -> text, as FunASR's Vocab::Vector2StringV2 with language "zh-cn"
// (funasr-compat.md §5.1, vocab.cpp:164-278), and the greedy search over logits rows
// (§5.2, paraformer.cpp:351-373, util.cpp FindMax).
//
// The vocabulary is taken as the token list (index = id), e.g. `Vocab::tokens()`, so this
// layer does not depend on how tokens.json is loaded.
#pragma once
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

// Appends the text of `ids` to `out`:
//  - `<s>`, `</s>`, `<unk>` are skipped; `<blank>` is not.
//  - a token containing "@@" loses its last two bytes and is glued to the following tokens
//    up to and including the next token without "@@"; if the "@@" token is the last id or
//    the next id is a CJK token, the word ends there with a trailing space. A word still
//    open at the end is dropped (as FunASR).
//  - CJK tokens are glued; an English word after a non-English one gets no space; after an
//    English word it gets one if the previous English word or itself is longer than 1 byte.
// Ids outside [0, tokens.size()) are skipped (FunASR would read out of bounds).
void append_ids_to_text(std::span<const int> ids, std::span<const std::string> tokens,
                        std::string& out);
std::string ids_to_text(std::span<const int> ids, std::span<const std::string> tokens);

}  // namespace paraserve
