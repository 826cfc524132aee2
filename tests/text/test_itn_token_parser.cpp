#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "text/itn_token_parser.h"

namespace paraserve {
namespace {

std::string reorder(const std::string& in) {
  std::string out;
  EXPECT_TRUE(reorder_itn_tokens(in, out)) << in;
  return out;
}

TEST(ItnTokenParser, TokensWithoutAnOrderKeepTheirFields) {
  EXPECT_EQ(reorder(R"(char { value: "共" } cardinal { value: "465" })"),
            R"(char { value: "共" } cardinal { value: "465" })");
  EXPECT_EQ(reorder(R"(cardinal { sign: "-" integer: "12" })"), R"(cardinal { sign: "-" integer: "12" })");
}

TEST(ItnTokenParser, FunAsrFieldOrders) {
  EXPECT_EQ(reorder(R"(money { value: "13.5" currency: "¥" })"), R"(money { currency: "¥" value: "13.5" })");
  EXPECT_EQ(reorder(R"(fraction { denominator: "5" numerator: "1" })"), R"(fraction { numerator: "1" denominator: "5" })");
  EXPECT_EQ(reorder(R"(fraction { denominator: "5" numerator: "1" sign: "-" })"),
            R"(fraction { sign: "-" numerator: "1" denominator: "5" })");
  EXPECT_EQ(reorder(R"(time { noon: "a.m." hour: "8" minute: "30" })"), R"(time { hour: "8" minute: "30" noon: "a.m." })");
  EXPECT_EQ(reorder(R"(time { second: "36" minute: "35" hour: "5" })"), R"(time { hour: "5" minute: "35" second: "36" })");
  EXPECT_EQ(reorder(R"(date { day: "05" month: "03" year: "2024" })"), R"(date { year: "2024" month: "03" day: "05" })");
  EXPECT_EQ(reorder(R"(measure { value: "25" denominator: "kg" numerator: "1" })"),
            R"(measure { numerator: "1" denominator: "kg" value: "25" })");
}

TEST(ItnTokenParser, OrderedTypesDropUnlistedFieldsOthersRepeatDuplicates) {
  // FunASR's money order has no "decimal": the field is dropped.
  EXPECT_EQ(reorder(R"(money { value: "3380" currency: "¥" decimal: ".58" })"), R"(money { currency: "¥" value: "3380" })");
  // A key given twice: printed twice with its last value (FunASR keeps the order list and a map).
  EXPECT_EQ(reorder(R"(x { a: "1" b: "2" a: "3" })"), R"(x { a: "3" b: "2" a: "3" })");
  // In an ordered type a duplicate is printed once, with its last value.
  EXPECT_EQ(reorder(R"(money { value: "1" value: "2" currency: "$" })"), R"(money { currency: "$" value: "2" })");
}

TEST(ItnTokenParser, SpacingAndEscapes) {
  // Extra spaces between and inside tokens are normalised to FunASR's printing.
  EXPECT_EQ(reorder(R"(  char {   value: "a" }    char { value: "b" }  )"), R"(char { value: "a" } char { value: "b" })");
  // Values keep their escapes; spaces and braces inside values are data.
  EXPECT_EQ(reorder(R"(char { value: "\"" } char { value: "\\" } char { value: " } " })"),
            R"(char { value: "\"" } char { value: "\\" } char { value: " } " })");
  // Multi-byte UTF-8 in values.
  EXPECT_EQ(reorder(R"(whitelist { value: "A$13.5 ±2 °C" })"), R"(whitelist { value: "A$13.5 ±2 °C" })");
  EXPECT_EQ(reorder(""), "");
  EXPECT_EQ(reorder("   "), "");
  EXPECT_EQ(reorder("char { }"), "char { }");
}

TEST(ItnTokenParser, ArbitraryBytesTerminate) {
  // Every prefix of a valid token string, and byte soup, ends (true or false) without hanging.
  const std::string valid = R"(money { value: "13.5" currency: "¥" } char { value: "\"" })";
  std::string out;
  for (std::size_t n = 0; n <= valid.size(); ++n) (void)reorder_itn_tokens(valid.substr(0, n), out);
  uint32_t x = 12345;
  for (int k = 0; k < 2000; ++k) {
    std::string s;
    for (int i = 0; i < 24; ++i) {
      x = x * 1664525u + 1013904223u;
      s += "{}\": a\t\xe4\xb8\x80"[(x >> 24) % 12];
    }
    (void)reorder_itn_tokens(s, out);
  }
  SUCCEED();
}

TEST(ItnTokenParser, MalformedInputIsRejectedNotLooped) {
  std::string out;
  // A value that never closes (FunASR loops forever on each of these).
  EXPECT_FALSE(reorder_itn_tokens(R"(cardinal { value: "123 })", out));
  EXPECT_FALSE(reorder_itn_tokens(R"(cardinal { value: 123 })", out));
  EXPECT_FALSE(reorder_itn_tokens(R"(char { value: "\)", out));
  EXPECT_FALSE(reorder_itn_tokens("plain text", out));
  // A tab where a key is expected (FunASR CHECK-fails).
  EXPECT_FALSE(reorder_itn_tokens("\tchar { value: \"a\" }", out));
  EXPECT_FALSE(reorder_itn_tokens("char {\tvalue: \"a\" }", out));
}

}  // namespace
}  // namespace paraserve
