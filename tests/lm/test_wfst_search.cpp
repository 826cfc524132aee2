// The LM search (src/lm/wfst_search.*): exact best path on small graphs (checked against an
// exhaustive enumeration), FunASR's self-loop rule, the am-scale, the Kaldi beam /
// min-active pruning, final costs, and the hotword bias in the search.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <set>

#include "lm/bias_lm.h"
#include "lm/wfst_search.h"
#include "lm_test_util.h"

namespace paraserve::lm {
namespace {

using testing::graph_from_lines;
using testing::SimpleGraph;
using testing::log_softmax_rows;

std::vector<int> decode(const Graph& g, const std::vector<float>& logp, int vocab, const SearchOptions& o = {},
                        const BiasLm* bias = nullptr) {
  WfstSearch s;
  std::vector<int> words;
  s.decode(g, logp.data(), static_cast<int>(logp.size() / static_cast<std::size_t>(vocab)), vocab, o, bias, words);
  return words;
}

// Exhaustive search: every path that takes exactly `rows` emitting arcs (never an emitting
// self-loop), epsilon arcs anywhere, ending in a final state if any path does.
struct Brute {
  Brute(const SimpleGraph& g_, const std::vector<float>& logp_, int vocab_, int rows_, float am_scale_)
      : g(g_), logp(logp_), vocab(vocab_), rows(rows_), am_scale(am_scale_) {}
  const SimpleGraph& g;
  const std::vector<float>& logp;
  int vocab, rows;
  float am_scale;
  std::vector<std::pair<double, std::vector<int>>> finals, anys;

  void run(int state, int frame, double cost, std::vector<int>& words) {
    if (frame == rows) {
      anys.push_back({cost, words});
      const float fin = g.Final(state).Value();
      if (fin != std::numeric_limits<float>::infinity()) finals.push_back({cost + fin, words});
    }
    for (fst::ArcIterator<fst::Fst<fst::StdArc>> it(g, state); !it.Done(); it.Next()) {
      const auto& a = it.Value();
      if (a.olabel) words.push_back(a.olabel);
      if (a.ilabel == 0) {
        run(a.nextstate, frame, cost + a.weight.Value(), words);
      } else if (frame < rows && a.nextstate != state) {
        const double ac = -am_scale * logp[static_cast<std::size_t>(frame * vocab + a.ilabel - 1)];
        run(a.nextstate, frame + 1, cost + ac + a.weight.Value(), words);
      }
      if (a.olabel) words.pop_back();
    }
  }
  // The word sequences within `tol` of the best cost (final paths if any exist).
  std::set<std::vector<int>> best(double tol) {
    auto& v = finals.empty() ? anys : finals;
    double m = std::numeric_limits<double>::infinity();
    for (auto& p : v) m = std::min(m, p.first);
    std::set<std::vector<int>> out;
    for (auto& p : v)
      if (p.first <= m + tol) out.insert(p.second);
    return out;
  }
};

TEST(WfstSearch, BestPathEqualsExhaustiveSearchOnRandomSmallGraphs) {
  std::mt19937 rng(12345);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  int checked = 0;
  for (int trial = 0; trial < 300; ++trial) {
    const int n_states = 2 + static_cast<int>(rng() % 4), vocab = 3 + static_cast<int>(rng() % 3);
    const int rows = 1 + static_cast<int>(rng() % 4);
    SimpleGraph g;
    for (int s = 0; s < n_states; ++s) g.AddState();
    g.SetStart(0);
    for (int s = 0; s < n_states; ++s) {
      const int n_arcs = 1 + static_cast<int>(rng() % 3);
      for (int k = 0; k < n_arcs; ++k) {
        const bool eps = rng() % 5 == 0;
        const int dst = eps ? s + 1 + static_cast<int>(rng() % static_cast<unsigned>(n_states - s))
                            : static_cast<int>(rng() % static_cast<unsigned>(n_states));
        if (eps && dst >= n_states) continue;  // epsilon arcs only go forward (no epsilon cycles)
        const int ilabel = eps ? 0 : 1 + static_cast<int>(rng() % static_cast<unsigned>(vocab));
        const int olabel = static_cast<int>(rng() % 4);
        // Epsilon weights stay small: the first epsilon closure runs under the beam (3.0).
        g.AddArc(s, fst::StdArc(ilabel, olabel, eps ? 0.4f * u(rng) : 3.0f * u(rng), dst));
      }
      if (rng() % 2 == 0) g.SetFinal(s, 2.0f * u(rng));
    }
    std::vector<std::vector<float>> scores(static_cast<std::size_t>(rows), std::vector<float>(static_cast<std::size_t>(vocab)));
    for (auto& r : scores)
      for (auto& x : r) x = 4.0f * u(rng);
    const auto logp = log_softmax_rows(scores);
    SearchOptions o;
    o.am_scale = 0.5f + 2.0f * u(rng);
    Brute b{g, logp, vocab, rows, o.am_scale};
    std::vector<int> w;
    b.run(0, 0, 0.0, w);
    if (b.anys.empty()) continue;  // no path of this length: nothing to compare
    const auto best = b.best(1e-3);
    const auto got = decode(Graph(g), logp, vocab, o);
    EXPECT_TRUE(best.count(got)) << "trial " << trial;
    ++checked;
  }
  EXPECT_GT(checked, 150);  // most random graphs have a path
}

TEST(WfstSearch, SkipsEmittingSelfLoopsAsFunAsr) {
  // 0 -3:5-> 1 (self-loop 3), 1 -4:6-> 2 (final). The rows prefer token 3 twice; a Paraformer
  // row is one token, so the self-loop is never taken and the path must be 3 then 4.
  const Graph g = graph_from_lines({"0 1 3 5", "1 1 3 7", "1 2 4 6", "2"});
  const auto logp = log_softmax_rows({{0, 0, 5, 0}, {0, 0, 5, 0}});
  EXPECT_EQ(decode(g, logp, 4), (std::vector<int>{5, 6}));
}

TEST(WfstSearch, AmScaleTradesAcousticAgainstGraphCost) {
  // Token 1 is acoustically better (0.7 vs 0.3) but costs 5 in the graph.
  const Graph g = graph_from_lines({"0 1 1 1 5", "0 1 2 2 0", "1"});
  const std::vector<float> logp = {std::log(0.7f), std::log(0.3f)};
  SearchOptions o;
  o.am_scale = 10.0f;  // acoustic margin 8.5 > 5
  EXPECT_EQ(decode(g, logp, 2, o), (std::vector<int>{1}));
  o.am_scale = 1.0f;   // 0.85 < 5
  EXPECT_EQ(decode(g, logp, 2, o), (std::vector<int>{2}));
}

TEST(WfstSearch, FinalCostsCountWhenAFinalStateIsReached) {
  // Two paths for one row: to state 1 (final, cost 4) or state 2 (not final, acoustically best).
  const Graph g = graph_from_lines({"0 1 1 1", "0 2 2 2", "1 4"});
  const std::vector<float> logp = {std::log(0.4f), std::log(0.6f)};
  EXPECT_EQ(decode(g, logp, 2), (std::vector<int>{1}));  // only final tokens count
  // Without any final state reachable at the end, the cheapest token wins.
  const Graph g2 = graph_from_lines({"0 1 1 1", "0 2 2 2", "3"});
  EXPECT_EQ(decode(g2, logp, 2), (std::vector<int>{2}));
}

TEST(WfstSearch, EpsilonArcsCarryWordsAndTheFirstClosureRunsUnderTheBeam) {
  // Word 9 is output on an epsilon arc after the last frame.
  const Graph g = graph_from_lines({"0 1 1 3", "1 2 0 9 0.5", "2"});
  EXPECT_EQ(decode(g, {0.0f}, 1), (std::vector<int>{3, 9}));
  // Before the first frame Kaldi follows epsilons only below the beam (3.0): an epsilon of
  // cost 3.5 from the start is not taken, even though it leads to the only final state.
  const Graph far = graph_from_lines({"0 1 0 4 3.5", "1 2 1 5", "0 3 1 6", "2"});
  EXPECT_EQ(decode(far, {0.0f}, 1), (std::vector<int>{6}));
  const Graph near = graph_from_lines({"0 1 0 4 2.5", "1 2 1 5", "0 3 1 6", "2"});
  EXPECT_EQ(decode(near, {0.0f}, 1), (std::vector<int>{4, 5}));
}

TEST(WfstSearch, LabelsBeyondTheVocabularyAreNeverTaken) {
  const Graph g = graph_from_lines({"0 1 7 1", "0 1 2 2 10", "1"});
  EXPECT_EQ(decode(g, {std::log(0.5f), std::log(0.5f)}, 2), (std::vector<int>{2}));
}

// 300 parallel branches of increasing cost (0.05, 0.15, ...), each followed by its own second
// arc: the number of tokens alive after frame 2 is the number expanded on frame 2.
Graph fan_graph() {
  SimpleGraph g;
  g.AddState();
  g.SetStart(0);
  for (int i = 0; i < 300; ++i) {
    const int a = g.AddState(), b = g.AddState();
    g.AddArc(0, fst::StdArc(1, i + 1, 0.1f * static_cast<float>(i) + 0.05f, a));
    g.AddArc(a, fst::StdArc(2, 0, 0.0f, b));
    g.SetFinal(b, 0.0f);
  }
  return Graph(g);
}

TEST(WfstSearch, MinActiveKeepsTheBest200PlusOneTokensBeyondTheBeam) {
  const Graph g = fan_graph();
  const std::vector<float> logp = {0.0f, 0.0f, 0.0f, 0.0f};  // 2 rows, vocab 2, all equal
  WfstSearch s;
  std::vector<int> words;
  SearchOptions o;  // beam 3, min_active 200 (Kaldi/FunASR defaults)
  ASSERT_TRUE(s.decode(g, logp.data(), 2, 2, o, nullptr, words));
  EXPECT_EQ(words, (std::vector<int>{1}));
  ASSERT_EQ(s.active_per_frame().size(), 2u);
  EXPECT_EQ(s.active_per_frame()[0], 300);  // one token per frame before: no pruning
  // 300 > min_active: the cutoff is the 201st best cost (20.05), looser than best + beam.
  EXPECT_EQ(s.active_per_frame()[1], 201);

  o.min_active = 0;  // pure beam: costs 0.05 + 0.1 i <= 0.05 + 3.02 -> branches 0..30
  o.beam = 3.02f;
  ASSERT_TRUE(s.decode(g, logp.data(), 2, 2, o, nullptr, words));
  EXPECT_EQ(s.active_per_frame()[1], 31);
  o.beam = 1.02f;
  ASSERT_TRUE(s.decode(g, logp.data(), 2, 2, o, nullptr, words));
  EXPECT_EQ(s.active_per_frame()[1], 11);
  o.max_active = 5;  // tighter than the beam
  ASSERT_TRUE(s.decode(g, logp.data(), 2, 2, o, nullptr, words));
  EXPECT_EQ(s.active_per_frame()[1], 6);  // Kaldi keeps costs <= the (max_active+1)-th
  EXPECT_EQ(words, (std::vector<int>{1}));
}

TEST(WfstSearch, BeamPruningCanLoseTheGlobalBestPath) {
  // Branch A looks better after frame 1 (by 4 > beam 3) but is a dead end of cost 100;
  // branch B recovers. With >200 tokens alive the beam prunes B; with few tokens Kaldi's
  // min_active keeps everything.
  SimpleGraph g;
  g.AddState();
  g.SetStart(0);
  const int a = g.AddState(), a2 = g.AddState(), b = g.AddState(), b2 = g.AddState();
  g.AddArc(0, fst::StdArc(1, 1, 0.0f, a));
  g.AddArc(a, fst::StdArc(1, 0, 100.0f, a2));
  g.AddArc(0, fst::StdArc(1, 2, 4.0f, b));
  g.AddArc(b, fst::StdArc(1, 0, 0.0f, b2));
  g.SetFinal(a2, 0.0f);
  g.SetFinal(b2, 0.0f);
  const std::vector<float> logp = {0.0f, 0.0f};  // vocab 1, 2 rows
  SearchOptions o;
  EXPECT_EQ(decode(Graph(g), logp, 1, o), (std::vector<int>{2}));
  o.min_active = 0;
  EXPECT_EQ(decode(Graph(g), logp, 1, o), (std::vector<int>{1}));  // B pruned at frame 2
  o.beam = 5.0f;
  EXPECT_EQ(decode(Graph(g), logp, 1, o), (std::vector<int>{2}));
}

TEST(WfstSearch, LatticeBeamDoesNotChangeTheBestPath) {
  const Graph g = fan_graph();
  const std::vector<float> logp = {0.0f, 0.0f, 0.0f, 0.0f};
  SearchOptions o;
  o.lattice_beam = 0.01f;
  EXPECT_EQ(decode(g, logp, 2, o), (std::vector<int>{1}));
}

TEST(WfstSearch, NoSurvivingTokenGivesNoWords) {
  const Graph g = graph_from_lines({"0 1 1 1", "1"});
  WfstSearch s;
  std::vector<int> words = {42};
  const std::vector<float> logp = {0.0f, 0.0f};  // 2 rows, but the graph has one arc
  EXPECT_FALSE(s.decode(g, logp.data(), 2, 1, {}, nullptr, words));
  EXPECT_TRUE(words.empty());
  EXPECT_FALSE(s.decode(g, logp.data(), 0, 1, {}, nullptr, words));
}

TEST(WfstSearch, StateIsResetBetweenDecodesAndShrinkReleases) {
  const Graph g = fan_graph();
  const std::vector<float> logp = {0.0f, 0.0f, 0.0f, 0.0f};
  WfstSearch s;
  std::vector<int> a, b;
  ASSERT_TRUE(s.decode(g, logp.data(), 2, 2, {}, nullptr, a));
  ASSERT_TRUE(s.decode(g, logp.data(), 2, 2, {}, nullptr, b));
  EXPECT_EQ(a, b);
  EXPECT_GT(s.bytes(), 0u);
  s.shrink_to(s.bytes());
  EXPECT_GT(s.bytes(), 0u);  // within the bound: kept
  s.shrink_to(0);
  EXPECT_EQ(s.bytes(), 0u);
  ASSERT_TRUE(s.decode(g, logp.data(), 2, 2, {}, nullptr, b));
  EXPECT_EQ(a, b);
}

TEST(WfstSearch, OptionsAreValidated) {
  SearchOptions o;
  EXPECT_NO_THROW(o.validate());
  o.beam = 0.0f;
  EXPECT_THROW(o.validate(), std::exception);
  o = {};
  o.am_scale = -1.0f;
  EXPECT_THROW(o.validate(), std::exception);
  o = {};
  o.lattice_beam = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(o.validate(), std::exception);
}

// Hotword bias inside the search: the graph prefers word 20 (tokens 3 4) over word 10
// (tokens 1 2); a hotword on tokens 1 2 flips it.
TEST(WfstSearch, HotwordBiasFlipsTheBestPath) {
  const Graph g = graph_from_lines({"0 1 2 10 30", "1 2 3 0", "0 3 4 20 0", "3 2 5 0", "2"});
  // ASR labels: token id = label - 1. Path A: tokens 1,2 (labels 2,3); B: tokens 3,4 (4,5).
  const auto logp = log_softmax_rows({{0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}});
  SearchOptions o;
  o.am_scale = 1.0f;
  EXPECT_EQ(decode(g, logp, 5, o), (std::vector<int>{20}));
  // inc 20 per token + weight 0: bonus 40 > 30.
  BiasLm hot({{{1, 2}, 0.0f}}, 20.0f, 5);
  EXPECT_EQ(decode(g, logp, 5, o, &hot), (std::vector<int>{10}));
  // inc 0: only the completion weight counts: 25 < 30 keeps B, 35 flips.
  BiasLm weak({{{1, 2}, 25.0f}}, 0.0f, 5);
  EXPECT_EQ(decode(g, logp, 5, o, &weak), (std::vector<int>{20}));
  BiasLm strong({{{1, 2}, 35.0f}}, 0.0f, 5);
  EXPECT_EQ(decode(g, logp, 5, o, &strong), (std::vector<int>{10}));
  // As in FunASR, a partial match still open at the end of the segment keeps its per-token
  // bonus (it is only given back when a later token breaks the match): hotword 1 2 3.
  BiasLm partial({{{1, 2, 3}, 100.0f}}, 20.0f, 5);
  EXPECT_EQ(decode(g, logp, 5, o, &partial), (std::vector<int>{10}));
}

}  // namespace
}  // namespace paraserve::lm
