// Helpers for the LM tests: small graphs built in code, posteriors from token lists.
// OpenFst 1.7.9's VectorFst does not compile as C++20 (std::allocator::rebind), so graphs are
// built in a minimal in-memory Fst and converted to the ConstFst the search uses.
#pragma once
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <fst/expanded-fst.h>

#include "lm/wfst_search.h"

namespace paraserve::lm::testing {

struct SimpleGraph : public fst::ExpandedFst<fst::StdArc> {
  using Arc = fst::StdArc;
  std::vector<std::vector<Arc>> arcs;
  std::vector<float> finals;
  int start = 0;

  int AddState() {
    arcs.emplace_back();
    finals.push_back(std::numeric_limits<float>::infinity());
    return static_cast<int>(arcs.size()) - 1;
  }
  void AddArc(int s, const Arc& a) { arcs[static_cast<std::size_t>(s)].push_back(a); }
  void SetFinal(int s, float w) { finals[static_cast<std::size_t>(s)] = w; }
  void SetStart(int s) { start = s; }

  StateId Start() const override { return arcs.empty() ? fst::kNoStateId : start; }
  Weight Final(StateId s) const override { return Weight(finals[static_cast<std::size_t>(s)]); }
  size_t NumArcs(StateId s) const override { return arcs[static_cast<std::size_t>(s)].size(); }
  size_t NumInputEpsilons(StateId s) const override { return count(s, true); }
  size_t NumOutputEpsilons(StateId s) const override { return count(s, false); }
  StateId NumStates() const override { return static_cast<StateId>(arcs.size()); }
  uint64 Properties(uint64 mask, bool) const override { return mask & fst::kExpanded; }
  const std::string& Type() const override {
    static const std::string t = "simple";
    return t;
  }
  SimpleGraph* Copy(bool = false) const override { return new SimpleGraph(*this); }
  const fst::SymbolTable* InputSymbols() const override { return nullptr; }
  const fst::SymbolTable* OutputSymbols() const override { return nullptr; }
  void InitStateIterator(fst::StateIteratorData<Arc>* data) const override {
    data->base = nullptr;
    data->nstates = NumStates();
  }
  void InitArcIterator(StateId s, fst::ArcIteratorData<Arc>* data) const override {
    data->base = nullptr;
    data->arcs = arcs[static_cast<std::size_t>(s)].data();
    data->narcs = arcs[static_cast<std::size_t>(s)].size();
    data->ref_count = nullptr;
  }

 private:
  size_t count(StateId s, bool input) const {
    size_t n = 0;
    for (const Arc& a : arcs[static_cast<std::size_t>(s)]) n += (input ? a.ilabel : a.olabel) == 0;
    return n;
  }
};

// Lines "src dst ilabel olabel [weight]" (arcs) and "state [final]".
inline SimpleGraph simple_from_lines(const std::vector<std::string>& lines) {
  SimpleGraph g;
  auto ensure = [&g](int s) { while (g.NumStates() <= s) g.AddState(); };
  ensure(0);
  for (const std::string& l : lines) {
    std::vector<double> v;
    std::size_t pos = 0;
    while (pos < l.size()) {
      std::size_t used = 0;
      v.push_back(std::stod(l.substr(pos), &used));
      pos += used;
      while (pos < l.size() && l[pos] == ' ') ++pos;
    }
    if (v.size() >= 4) {
      ensure(static_cast<int>(std::max(v[0], v[1])));
      g.AddArc(static_cast<int>(v[0]), fst::StdArc(static_cast<int>(v[2]), static_cast<int>(v[3]),
                                                   v.size() > 4 ? static_cast<float>(v[4]) : 0.0f,
                                                   static_cast<int>(v[1])));
    } else {
      ensure(static_cast<int>(v[0]));
      g.SetFinal(static_cast<int>(v[0]), v.size() > 1 ? static_cast<float>(v[1]) : 0.0f);
    }
  }
  return g;
}

inline Graph graph_from_lines(const std::vector<std::string>& lines) { return Graph(simple_from_lines(lines)); }

// rows x vocab log-softmax rows from raw scores.
inline std::vector<float> log_softmax_rows(const std::vector<std::vector<float>>& scores) {
  std::vector<float> out;
  for (const auto& r : scores) {
    float m = -1e30f;
    for (float x : r) m = std::max(m, x);
    double z = 0;
    for (float x : r) z += std::exp(static_cast<double>(x - m));
    for (float x : r) out.push_back(static_cast<float>(x - m - std::log(z)));
  }
  return out;
}

}  // namespace paraserve::lm::testing
