#include "lm/hotwords.h"

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace paraserve::lm {

namespace {

void trim(std::string& s) {
  const char* ws = " \t\n\r\f\v";
  const auto last = s.find_last_not_of(ws);
  if (last == std::string::npos) { s.clear(); return; }
  s.erase(last + 1);
  s.erase(0, s.find_first_not_of(ws));
}

std::vector<std::string> split_spaces(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    const auto found = s.find(' ', start);
    const auto end = found == std::string::npos ? s.size() : found;
    if (end > start) out.push_back(s.substr(start, end - start));
    if (found == std::string::npos) break;
    start = found + 1;
  }
  return out;
}

// std::stof as FunASR uses it: a numeric prefix is enough; none, or out of range, fails.
bool parse_weight(const std::string& s, int& out) {
  errno = 0;
  char* end = nullptr;
  const float f = std::strtof(s.c_str(), &end);
  if (end == s.c_str() || errno == ERANGE || !std::isfinite(f)) return false;
  if (f >= 2147483648.0f || f < -2147483648.0f) return false;
  out = static_cast<int>(f);
  return true;
}

}  // namespace

void parse_hotword_lines(std::istream& in, const std::string& source, HotwordMap& out,
                         std::vector<std::string>& problems) {
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    trim(line);
    if (line.empty()) continue;
    const auto fields = split_spaces(line);
    const std::string where = source + ":" + std::to_string(lineno);
    if (fields.size() < 2) {
      problems.push_back(where + ": '" + line + "' has no weight (expected 'phrase weight'); skipped");
      continue;
    }
    int weight = 0;
    if (!parse_weight(fields.back(), weight)) {
      problems.push_back(where + ": weight '" + fields.back() + "' is not a number; skipped");
      continue;
    }
    std::string phrase;
    for (std::size_t i = 0; i + 1 < fields.size(); ++i) {
      if (i) phrase += ' ';
      phrase += fields[i];
    }
    if (out.size() >= kMaxHotwords && !out.count(phrase)) {
      problems.push_back(where + ": more than " + std::to_string(kMaxHotwords) + " hotwords; '" + phrase + "' skipped");
      continue;
    }
    if (!out.emplace(phrase, weight).second)
      problems.push_back(where + ": '" + phrase + "' repeats an earlier line; the first weight is kept");
  }
}

HotwordMap load_hotword_file(const std::string& path, std::vector<std::string>& problems) {
  std::ifstream f(path);
  if (!f) throw Error("--hotword: cannot open '" + path + "'");
  HotwordMap m;
  parse_hotword_lines(f, path, m, problems);
  return m;
}

bool parse_client_hotwords(const std::string& value, HotwordMap& out, std::vector<std::string>& problems) {
  if (value.empty()) return false;
  nlohmann::json j = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    problems.push_back("hotwords: not a JSON object; a plain hotword list needs a contextual (NN hotword) "
                       "Paraformer, which is not supported: ignored");
    return false;
  }
  if (!j.is_object()) return false;  // FunASR: valid JSON that is not an object adds nothing
  HotwordMap client;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it->is_number() && !it->is_boolean()) {
      // FunASR converts the whole object at once; one bad value loses all of it.
      problems.push_back("hotwords: weight of '" + it.key() + "' is not a number; all client hotwords ignored");
      return false;
    }
    const double w = it->is_boolean() ? (it->get<bool>() ? 1.0 : 0.0) : it->get<double>();
    if (!(w < 2147483648.0 && w >= -2147483648.0)) {
      problems.push_back("hotwords: weight of '" + it.key() + "' is out of range; all client hotwords ignored");
      return false;
    }
    client.emplace(it.key(), static_cast<int>(w));
  }
  std::size_t dropped = 0;
  for (auto& [k, w] : client) {
    if (out.size() >= kMaxHotwords && !out.count(k)) { ++dropped; continue; }
    out.emplace(k, w);
  }
  if (dropped)
    problems.push_back("hotwords: more than " + std::to_string(kMaxHotwords) + " entries; " + std::to_string(dropped) +
                       " dropped");
  return !out.empty();
}

HotwordMap merge_hotwords(const HotwordMap& client, const HotwordMap& server, std::vector<std::string>& problems) {
  HotwordMap m = client;
  std::size_t dropped = 0;
  for (const auto& kv : server) {
    if (m.size() >= kMaxHotwords && !m.count(kv.first)) { ++dropped; continue; }
    m.insert(kv);
  }
  if (dropped)
    problems.push_back("hotwords: more than " + std::to_string(kMaxHotwords) + " with the server's; " +
                       std::to_string(dropped) + " server entries dropped");
  return m;
}

std::shared_ptr<const BiasLm> compile_hotwords(const HotwordMap& hotwords, const LmModel& lm,
                                               const std::vector<std::string>& asr_tokens, float inc_bias,
                                               std::vector<std::string>& problems) {
  std::unordered_map<std::string, int> ids;
  ids.reserve(asr_tokens.size());
  for (std::size_t i = 0; i < asr_tokens.size(); ++i) ids.emplace(asr_tokens[i], static_cast<int>(i));
  std::vector<BiasEntry> entries;
  for (const auto& [phrase, weight] : hotwords) {
    BiasEntry e;
    e.weight = static_cast<float>(weight);
    bool oov = false;
    std::string missing;
    for (const std::string& piece : split_chi_eng(phrase)) {
      const auto lex = lm.lexicon.find(piece);
      if (lex == lm.lexicon.end()) {
        missing += (missing.empty() ? "" : ", ") + piece;
        continue;
      }
      std::istringstream toks(lex->second);
      std::string t;
      while (toks >> t) {
        const auto id = ids.find(t);
        if (id == ids.end()) { oov = true; break; }
        e.token_ids.push_back(id->second);
      }
      if (oov) break;
    }
    if (oov) {
      problems.push_back("hotword '" + phrase + "': its spelling has a token outside the ASR vocabulary; skipped");
      continue;
    }
    if (!missing.empty() && !e.token_ids.empty())
      problems.push_back("hotword '" + phrase + "': '" + missing + "' not in the LM lexicon (left out, as FunASR)");
    if (e.token_ids.empty()) {
      problems.push_back("hotword '" + phrase + "': no piece is in the LM lexicon; skipped");
      continue;
    }
    if (e.token_ids.size() > kMaxHotwordTokens) {
      problems.push_back("hotword '" + phrase + "': longer than " + std::to_string(kMaxHotwordTokens) + " tokens; skipped");
      continue;
    }
    entries.push_back(std::move(e));
  }
  if (entries.empty()) return nullptr;
  return std::make_shared<const BiasLm>(entries, inc_bias, static_cast<int>(asr_tokens.size()));
}

}  // namespace paraserve::lm
