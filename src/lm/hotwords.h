// FunASR's FST hotwords (funasr-compat.md §1.2.1, §2.1, §3.7): the server file, the
// per-connection JSON object, the merge, and their compilation into a BiasLm.
// Nothing here is fatal: every rejected entry adds one line to `problems`.
#pragma once
#include <istream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lm/bias_lm.h"
#include "lm/lm_model.h"

namespace paraserve::lm {

using HotwordMap = std::map<std::string, int>;  // phrase -> weight

// paraserve's bounds (FunASR sets none for FST hotwords): entries past kMaxHotwords are
// dropped, and a phrase spelled with more than kMaxHotwordTokens tokens is dropped.
constexpr std::size_t kMaxHotwords = 1000;
constexpr std::size_t kMaxHotwordTokens = 50;

// FunASR's ExtractHws: per line, trim; split on spaces; the last field is the weight (stof,
// truncated to int), the others joined by one space are the phrase. A line with one field
// or an unparsable weight is skipped; the first of two equal phrases wins.
void parse_hotword_lines(std::istream& in, const std::string& source, HotwordMap& out,
                         std::vector<std::string>& problems);
// Throws paraserve::Error when the file cannot be opened.
HotwordMap load_hotword_file(const std::string& path, std::vector<std::string>& problems);

// The client's `hotwords` string. A JSON object {"phrase": weight} fills `out` (a non-numeric
// weight discards the whole object, as FunASR); any other JSON adds nothing; a string that is
// not JSON is FunASR's "NN hotwords" list, which needs a contextual Paraformer (not
// supported): reported and ignored. Returns true when `out` got entries.
bool parse_client_hotwords(const std::string& value, HotwordMap& out, std::vector<std::string>& problems);

// Client entries win over the server's on equal phrases; server entries beyond kMaxHotwords
// in total are dropped (reported).
HotwordMap merge_hotwords(const HotwordMap& client, const HotwordMap& server, std::vector<std::string>& problems);

// Spells each phrase with the LM lexicon (per split_chi_eng piece; a piece missing from the
// lexicon contributes nothing, as FunASR) and the ASR vocabulary. A phrase with a token
// outside the vocabulary, or with no tokens at all, is dropped. Returns nullptr when no
// phrase is left.
std::shared_ptr<const BiasLm> compile_hotwords(const HotwordMap& hotwords, const LmModel& lm,
                                               const std::vector<std::string>& asr_tokens, float inc_bias,
                                               std::vector<std::string>& problems);

}  // namespace paraserve::lm
