#include "frontend/cmvn.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>

#include "common/error.h"

namespace paraserve {
namespace {

std::vector<std::string_view> split_ws(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    const std::size_t s = i;
    while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    if (i > s) out.push_back(line.substr(s, i - s));
  }
  return out;
}

// Values of a `<LearnRateCoef> c [ v1 v2 ... ]` line (FunASR reads tokens [3, size-1)).
std::vector<float> parse_values(std::string_view line, const std::string& name, int line_no, const char* comp) {
  const auto tok = split_ws(line);
  const std::string where = name + ": line " + std::to_string(line_no) + " (after " + comp + ")";
  if (tok.empty() || tok[0] != "<LearnRateCoef>")
    throw Error(where + ": expected '<LearnRateCoef> <coef> [ values... ]'");
  if (tok.size() < 4 || tok[2] != "[" || tok.back() != "]")
    throw Error(where + ": expected the values enclosed in '[ ... ]' on the same line");
  std::vector<float> v;
  v.reserve(tok.size() - 4);
  for (std::size_t j = 3; j + 1 < tok.size(); ++j) {
    float x = 0;
    const auto* b = tok[j].data();
    const auto* e = b + tok[j].size();
    const auto r = std::from_chars(b, e, x);
    if (r.ec != std::errc() || r.ptr != e)
      throw Error(where + ": value " + std::to_string(j - 2) + " '" + std::string(tok[j]) + "' is not a number");
    v.push_back(x);
  }
  return v;
}

}  // namespace

Cmvn Cmvn::parse(std::string_view text, const std::string& name) {
  Cmvn c;
  bool have_shift = false, have_scale = false;
  int declared_shift = -1, declared_scale = -1;
  std::size_t pos = 0;
  int line_no = 0;
  auto next_line = [&](std::string_view& line) {
    if (pos >= text.size()) return false;
    std::size_t e = text.find('\n', pos);
    if (e == std::string_view::npos) e = text.size();
    line = text.substr(pos, e - pos);
    pos = e + 1;
    ++line_no;
    return true;
  };
  std::string_view line;
  while (next_line(line)) {
    const auto tok = split_ws(line);
    if (tok.empty()) continue;
    const bool is_shift = tok[0] == "<AddShift>", is_scale = tok[0] == "<Rescale>";
    if (!is_shift && !is_scale) continue;
    const char* comp = is_shift ? "<AddShift>" : "<Rescale>";
    int declared = -1;
    if (tok.size() >= 2) std::from_chars(tok[1].data(), tok[1].data() + tok[1].size(), declared);
    std::string_view vline;
    if (!next_line(vline)) throw Error(name + ": " + comp + " at the end of the file has no values line");
    auto v = parse_values(vline, name, line_no, comp);
    if ((is_shift && have_shift) || (is_scale && have_scale))
      throw Error(name + ": line " + std::to_string(line_no - 1) + ": duplicate " + comp + " component");
    if (is_shift) { c.shift = std::move(v); have_shift = true; declared_shift = declared; }
    else { c.scale = std::move(v); have_scale = true; declared_scale = declared; }
  }
  if (!have_shift) throw Error(name + ": no <AddShift> component (is this a FunASR am.mvn?)");
  if (!have_scale) throw Error(name + ": no <Rescale> component (is this a FunASR am.mvn?)");
  if (c.shift.empty()) throw Error(name + ": <AddShift> has no values");
  if (c.shift.size() != c.scale.size())
    throw Error(name + ": <AddShift> has " + std::to_string(c.shift.size()) + " values but <Rescale> has " +
                std::to_string(c.scale.size()));
  for (int decl : {declared_shift, declared_scale}) {
    if (decl > 0 && static_cast<std::size_t>(decl) != c.shift.size())
      throw Error(name + ": component declares dimension " + std::to_string(decl) + " but lists " +
                  std::to_string(c.shift.size()) + " values");
  }
  return c;
}

Cmvn Cmvn::load(const std::string& am_mvn_path) {
  std::ifstream f(am_mvn_path, std::ios::binary);
  if (!f) throw Error(am_mvn_path + ": cannot open CMVN file (am.mvn)");
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) throw Error(am_mvn_path + ": read error");
  return parse(ss.str(), am_mvn_path);
}

void Cmvn::check_dim(int dim, const std::string& what) const {
  if (static_cast<std::size_t>(dim) < shift.size())
    throw Error(what + ": CMVN has " + std::to_string(shift.size()) + " dimensions but features have " +
                std::to_string(dim));
}

void Cmvn::apply(float* x, int T, int dim) const {
  const std::size_t k = std::min(shift.size(), static_cast<std::size_t>(dim));
  const float* sh = shift.data();
  const float* sc = scale.data();
  for (int t = 0; t < T; ++t) {
    float* row = x + static_cast<std::size_t>(t) * static_cast<std::size_t>(dim);
    for (std::size_t j = 0; j < k; ++j) row[j] = (row[j] + sh[j]) * sc[j];
  }
}

}  // namespace paraserve
