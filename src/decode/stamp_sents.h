// Sentence stamps (`stamp_sents`) and the `timestamp` string, as FunASR's
// TimestampSentence + TimestampSplitChiEngCharacters (util.cpp:257-366,569-637),
// funasr-compat.md §5.4. Content is FunASR's; the result is structured (always valid JSON
// once serialised), unlike FunASR's string which can end in a trailing comma.
#pragma once
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/stream_types.h"

namespace paraserve {

// TimestampSplitChiEngCharacters: CJK chars (U+4E00-9FFF, U+3400-4DFF), ASCII digits and
// punctuation (ASCII 0x21-0x2F, 0x3A-0x40, 0x5B-0x60, 0x7B-0x7E except & ' -, U+2000-206F,
// U+3000-303F) become single units; spaces separate; other characters form words.
// Bytes that are not 1-3 byte UTF-8 (e.g. 4-byte sequences) are dropped, as FunASR's
// UTF-16 conversion does. `units` is cleared first.
void split_stamp_units(std::string_view text, std::vector<std::string>& units);

// TimestampIsPunctuation(string): true when every byte of `unit` occurs in the bytes of
// "，。？、,?" (so e.g. "！" = EF BC 81 also counts).
bool is_stamp_punctuation(std::string_view unit);

// One sentence of TimestampSentence being built, unit by unit: build_stamp_sents() and the
// streaming transcriber walk their units through it.
class SentenceStampBuilder {
 public:
  // A word unit with its token stamp.
  void add_word(const std::string& unit, const TokenStamp& stamp);
  // A punctuation unit ends the sentence, which is returned; the next one starts at 0/0
  // (the first sentence starts at -1/-1, FunASR's initial values).
  SentenceStamp close(const std::string& punc);
  // End of text: the words after the last punctuation, if any, as a sentence without punc.
  bool finish(SentenceStamp& out);

 private:
  SentenceStamp cur_;
};

std::vector<SentenceStamp> build_stamp_sents(const std::string& punctuated_text,
                                             std::span<const TokenStamp> stamps);

// "[[b,e],[b,e]]" without spaces; "" for no stamps (FunASR leaves the field empty then).
std::string stamps_to_string(std::span<const TokenStamp> stamps);

}  // namespace paraserve
