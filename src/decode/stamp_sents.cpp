#include "decode/stamp_sents.h"

#include <cstdint>

namespace paraserve {

namespace {

bool is_cjk_cp(uint32_t u) { return (u >= 0x4E00 && u <= 0x9FFF) || (u >= 0x3400 && u <= 0x4DFF); }

bool is_unit_punct(uint32_t u) {
  if (u == 0x26 || u == 0x27 || u == 0x2D) return false;  // & ' - occur inside words
  return (u >= 0x21 && u <= 0x2F) || (u >= 0x3A && u <= 0x40) || (u >= 0x5B && u <= 0x60) ||
         (u >= 0x7B && u <= 0x7E) || (u >= 0x2000 && u <= 0x206F) || (u >= 0x3000 && u <= 0x303F);
}

// FunASR's EncodeConverter::Utf8ToUtf16 for one character: 1-3 byte sequences with the right
// continuation bytes and no overlong form decode; anything else consumes one byte as U+0000.
size_t decode_utf8(std::string_view s, size_t i, uint32_t& cp) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const size_t left = s.size() - i;
  if ((b(0) & 0xF0) == 0xE0 && left >= 3) {
    if ((b(1) & 0xC0) == 0x80 && (b(2) & 0xC0) == 0x80) {
      cp = (static_cast<uint32_t>(b(0) & 0x0F) << 12) | (static_cast<uint32_t>(b(1) & 0x3F) << 6) |
           (b(2) & 0x3F);
      if (cp >= 0x800) return 3;
    }
  } else if ((b(0) & 0xE0) == 0xC0 && left >= 2) {
    if ((b(1) & 0xC0) == 0x80) {
      cp = (static_cast<uint32_t>(b(0) & 0x1F) << 6) | (b(1) & 0x3F);
      if (cp >= 0x80) return 2;
    }
  } else if ((b(0) & 0x80) == 0) {
    cp = b(0);
    return 1;
  }
  cp = 0;
  return 1;
}

}  // namespace

void split_stamp_units(std::string_view text, std::vector<std::string>& units) {
  units.clear();
  std::string word;
  auto flush = [&] {
    if (!word.empty()) {
      units.push_back(word);
      word.clear();
    }
  };
  size_t i = 0;
  while (i < text.size()) {
    uint32_t cp = 0;
    const size_t n = decode_utf8(text, i, cp);
    const std::string_view ch = text.substr(i, n);
    i += n;
    if (is_cjk_cp(cp) || (cp >= '0' && cp <= '9') || is_unit_punct(cp)) {
      flush();
      units.emplace_back(ch);
    } else if (cp == ' ') {
      flush();
    } else if (cp != 0) {
      word += ch;  // U+0000 re-encodes to an empty C string in FunASR: nothing is added
    }
  }
  flush();
}

bool is_stamp_punctuation(std::string_view unit) {
  static constexpr std::string_view kPunct = "，。？、,?";
  for (char c : unit) {
    if (kPunct.find(c) == std::string_view::npos) return false;
  }
  return true;
}

void SentenceStampBuilder::add_word(const std::string& unit, const TokenStamp& stamp) {
  if (!cur_.text_seg.empty()) cur_.text_seg += ' ';
  cur_.text_seg += unit;
  cur_.ts_list.push_back(stamp);
}

SentenceStamp SentenceStampBuilder::close(const std::string& punc) {
  if (!cur_.ts_list.empty()) {
    cur_.start = cur_.ts_list.front().begin_ms;
    cur_.end = cur_.ts_list.back().end_ms;
  }
  cur_.punc = punc;
  SentenceStamp done = std::move(cur_);
  cur_ = SentenceStamp{};
  cur_.start = 0;
  cur_.end = 0;
  return done;
}

bool SentenceStampBuilder::finish(SentenceStamp& out) {
  const bool any = !cur_.ts_list.empty();
  if (any) {
    cur_.start = cur_.ts_list.front().begin_ms;
    cur_.end = cur_.ts_list.back().end_ms;
    cur_.punc.clear();
    out = std::move(cur_);
  }
  cur_ = SentenceStamp{};
  return any;
}

std::vector<SentenceStamp> build_stamp_sents(const std::string& punctuated_text,
                                             std::span<const TokenStamp> stamps) {
  std::vector<std::string> units;
  split_stamp_units(punctuated_text, units);

  std::vector<SentenceStamp> out;
  SentenceStampBuilder builder;
  size_t next_stamp = 0;
  for (const std::string& unit : units) {
    if (is_stamp_punctuation(unit)) out.push_back(builder.close(unit));
    else if (next_stamp < stamps.size()) builder.add_word(unit, stamps[next_stamp++]);
    // A non-punctuation unit without a stamp left is dropped.
  }
  SentenceStamp tail;
  if (builder.finish(tail)) out.push_back(std::move(tail));  // text after the last punctuation
  return out;
}

std::string stamps_to_string(std::span<const TokenStamp> stamps) {
  std::string s;
  if (stamps.empty()) return s;
  s += '[';
  for (size_t i = 0; i < stamps.size(); ++i) {
    if (i) s += ',';
    s += '[';
    s += std::to_string(stamps[i].begin_ms);
    s += ',';
    s += std::to_string(stamps[i].end_ms);
    s += ']';
  }
  s += ']';
  return s;
}

}  // namespace paraserve
