// The token reordering step between the ITN tagger and verbaliser, with the behaviour of
// FunASR's itn-token-parser (funasr-compat.md §3.6): the tagger prints a sequence of tokens
//
//   name { key: "value" key: "value" } name { ... } ...
//
// and the verbaliser expects the fields of some token types in a fixed order. reorder_itn_tokens
// parses the tagger's string and prints it again, one space between tokens, with
//   date     { year month day }
//   fraction { sign numerator denominator }
//   measure  { numerator denominator value }
//   money    { currency value }
//   time     { hour minute second noon }
// (fields missing from a token are skipped; fields of these types that the list does not name
// are dropped). Other token types keep their fields in input order; a key given twice is
// printed twice, both times with its last value. A value keeps its backslash escapes.
//
// Malformed input (a value that never closes, a tab where a key is expected) makes FunASR hang
// or abort; here it returns false and leaves `out` unspecified.
#pragma once
#include <string>
#include <string_view>

namespace paraserve {

bool reorder_itn_tokens(std::string_view tagged, std::string& out);

}  // namespace paraserve
