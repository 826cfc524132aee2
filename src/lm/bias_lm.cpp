#include "lm/bias_lm.h"

#include <algorithm>
#include <deque>

namespace paraserve::lm {

BiasLm::BiasLm(const std::vector<BiasEntry>& entries, float inc_bias, int vocab_size)
    : inc_bias_(inc_bias), vocab_size_(vocab_size) {
  nodes_.emplace_back();  // root
  // Prefix tree. FunASR builds one chain per hotword and determinizes it (tropical semiring):
  // shared prefixes merge, every arc keeps the same increment, and a state reached by several
  // hotwords keeps the smallest of their weights as its final weight.
  for (const BiasEntry& e : entries) {
    if (e.token_ids.empty()) continue;
    int32_t cur = 0;
    for (std::size_t j = 0; j < e.token_ids.size(); ++j) {
      const int label = e.token_ids[j];
      int32_t next = child(cur, label);
      if (next < 0) {
        next = static_cast<int32_t>(nodes_.size());
        nodes_.emplace_back();
        nodes_[static_cast<std::size_t>(next)].depth_score = inc_bias_ * static_cast<float>(j + 1);
        auto& ch = nodes_[static_cast<std::size_t>(cur)].children;
        ch.insert(std::lower_bound(ch.begin(), ch.end(), std::make_pair(label, int32_t{-1})),
                  std::make_pair(label, next));
      }
      cur = next;
    }
    Node& end = nodes_[static_cast<std::size_t>(cur)];
    end.final_weight = end.is_final ? std::min(end.final_weight, e.weight) : e.weight;
    end.is_final = true;
  }
  // Failure links in breadth-first order. Leaving a node gives back the difference between
  // its bonus and its failure node's, except from a completed hotword, whose bonus is kept.
  std::deque<int32_t> queue;
  for (const auto& [label, c] : nodes_[0].children) {
    (void)label;
    Node& n = nodes_[static_cast<std::size_t>(c)];
    n.back_off = 0;
    n.back_off_score = n.is_final ? 0.0f : nodes_[0].depth_score - n.depth_score;
    queue.push_back(c);
  }
  while (!queue.empty()) {
    const int32_t s = queue.front();
    queue.pop_front();
    for (const auto& [label, c] : nodes_[static_cast<std::size_t>(s)].children) {
      int32_t t = nodes_[static_cast<std::size_t>(s)].back_off;
      int32_t fail = 0;
      while (true) {
        const int32_t m = child(t, label);
        if (m >= 0) { fail = m; break; }
        if (t == 0) { fail = 0; break; }
        t = nodes_[static_cast<std::size_t>(t)].back_off;
      }
      Node& n = nodes_[static_cast<std::size_t>(c)];
      n.back_off = fail;
      n.back_off_score = n.is_final ? 0.0f : nodes_[static_cast<std::size_t>(fail)].depth_score - n.depth_score;
      queue.push_back(c);
    }
  }
}

int32_t BiasLm::child(int32_t node, int label) const {
  const auto& ch = nodes_[static_cast<std::size_t>(node)].children;
  auto it = std::lower_bound(ch.begin(), ch.end(), std::make_pair(label, int32_t{-1}));
  return (it != ch.end() && it->first == label) ? it->second : -1;
}

float BiasLm::score(int32_t state, int label, int32_t& next_state) const {
  // FunASR's BiasLmScore: out-of-range labels (and an empty graph) score 0 and reset the
  // state to the root.
  if (label < 1 || label > vocab_size_ || empty() || state < 0 ||
      static_cast<std::size_t>(state) >= nodes_.size()) {
    next_state = 0;
    return 0.0f;
  }
  int32_t cur = state;
  float s = 0.0f;
  while (true) {
    const int32_t prev = cur;
    const int32_t m = child(cur, label);
    if (m >= 0) {
      s += inc_bias_;
      const Node& n = nodes_[static_cast<std::size_t>(m)];
      if (n.is_final) s = s + n.final_weight;
      cur = m;
      break;
    }
    const Node& n = nodes_[static_cast<std::size_t>(cur)];
    if (n.back_off >= 0) {
      s += n.back_off_score;
      cur = n.back_off;
    }
    if (prev == 0 && cur == 0) break;
  }
  next_state = cur;
  return s;
}

}  // namespace paraserve::lm
