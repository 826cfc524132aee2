#include "text/itn_token_parser.h"

#include <array>
#include <utility>
#include <vector>

namespace paraserve {

namespace {

struct FieldOrder {
  std::string_view token;
  std::array<std::string_view, 4> keys;  // empty entries unused
};

// FunASR's ITN field orders (itn-token-parser.cpp, ITN_ORDERS).
constexpr std::array<FieldOrder, 5> kItnOrders{{
    {"date", {"year", "month", "day", ""}},
    {"fraction", {"sign", "numerator", "denominator", ""}},
    {"measure", {"numerator", "denominator", "value", ""}},
    {"money", {"currency", "value", "", ""}},
    {"time", {"hour", "minute", "second", "noon"}},
}};

const FieldOrder* order_of(std::string_view name) {
  for (const auto& o : kItnOrders)
    if (o.token == name) return &o;
  return nullptr;
}

// Length of the UTF-8 character starting with byte b (1 for a stray continuation byte).
std::size_t char_len(unsigned char b) {
  if (b >= 0xF0) return 4;
  if (b >= 0xE0) return 3;
  if (b >= 0xC0) return 2;
  return 1;
}

bool is_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

// A cursor over UTF-8 characters: cur() is the current character, empty at the end.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) { set(); }
  bool eos() const { return pos_ >= s_.size(); }
  std::string_view cur() const { return s_.substr(pos_, len_); }
  void next() {
    pos_ += len_;
    set();
  }
  // Consumes `c` (one ASCII character) if it is the current one.
  bool take(char c) {
    if (eos() || len_ != 1 || s_[pos_] != c) return false;
    next();
    return true;
  }

 private:
  void set() {
    len_ = eos() ? 0 : std::min(char_len(static_cast<unsigned char>(s_[pos_])), s_.size() - pos_);
  }
  std::string_view s_;
  std::size_t pos_ = 0;
  std::size_t len_ = 0;
};

struct Token {
  std::string name;
  std::vector<std::pair<std::string, std::string>> fields;  // in input order

  const std::string* last_value(std::string_view key) const {
    for (auto it = fields.rbegin(); it != fields.rend(); ++it)
      if (it->first == key) return &it->second;
    return nullptr;
  }

  void print(std::string& out) const {
    out += name;
    out += " {";
    auto field = [&](std::string_view key, const std::string& value) {
      out += ' ';
      out += key;
      out += ": \"";
      out += value;
      out += '"';
    };
    if (const FieldOrder* o = order_of(name)) {
      for (std::string_view key : o->keys)
        if (!key.empty())
          if (const std::string* v = last_value(key)) field(key, *v);
    } else {
      for (const auto& f : fields) field(f.first, *last_value(f.first));
    }
    out += " }";
  }
};

// Skips spaces; false at the end of the input.
bool skip_spaces(Cursor& c) {
  while (!c.eos() && c.cur() == " ") c.next();
  return !c.eos();
}

// A key (ASCII letters and '_', possibly empty). False where FunASR CHECK-fails: a tab, a
// newline or a carriage return where a key is expected.
bool parse_key(Cursor& c, std::string& key) {
  key.clear();
  const std::string_view ch = c.cur();
  if (ch == "\t" || ch == "\n" || ch == "\r") return false;
  while (!c.eos() && c.cur().size() == 1 && is_key_char(c.cur()[0])) {
    key += c.cur();
    c.next();
  }
  return true;
}

// Each character of `chars` in turn is consumed if it is the current one (FunASR's parse_chars).
void take_each(Cursor& c, std::string_view chars) {
  for (char x : chars) c.take(x);
}

// Everything up to the next unescaped '"' (kept with its escapes); false if the input ends first.
bool parse_value(Cursor& c, std::string& value) {
  value.clear();
  bool escape = false;
  while (true) {
    if (c.eos()) return false;
    if (c.cur() == "\"") return true;
    value += c.cur();
    escape = c.cur() == "\\" && !escape;
    c.next();
    if (escape) {
      if (c.eos()) return false;
      value += c.cur();
      c.next();
    }
  }
}

}  // namespace

bool reorder_itn_tokens(std::string_view tagged, std::string& out) {
  out.clear();
  Cursor c(tagged);
  std::vector<Token> tokens;
  std::string key, value;
  while (skip_spaces(c)) {
    Token token;
    if (!parse_key(c, token.name)) return false;
    take_each(c, " { ");
    while (skip_spaces(c)) {
      if (c.take('}')) break;
      if (!parse_key(c, key)) return false;
      take_each(c, ": \"");
      if (!parse_value(c, value)) return false;
      c.take('"');
      token.fields.emplace_back(key, value);
    }
    tokens.push_back(std::move(token));
  }
  for (const Token& t : tokens) {
    t.print(out);
    out += ' ';
  }
  // FunASR trims the joined string (only the leading space of a nameless first token and the
  // final separator can be whitespace there).
  const auto first = out.find_first_not_of(" \t\n\r\f\v");
  if (first == std::string::npos) {
    out.clear();
  } else {
    out.erase(0, first);
    out.erase(out.find_last_not_of(" \t\n\r\f\v") + 1);
  }
  return true;
}

}  // namespace paraserve
