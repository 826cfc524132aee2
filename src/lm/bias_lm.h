// Hotword biasing graph for the WFST search (FunASR's "FST hotwords", funasr-compat.md §3.7):
// a prefix tree over the hotwords' token ids with Aho-Corasick back-off links. Every matched
// token earns `inc_bias`, completing a hotword earns its weight as well, and leaving a partial
// match gives the partial bonus back. The search subtracts the returned score from the graph
// cost. Immutable after construction; shared read-only by the searches that use it.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace paraserve::lm {

struct BiasEntry {
  std::vector<int> token_ids;  // ids in the ASR vocabulary (tokens.json)
  float weight = 0.0f;         // bonus for completing the hotword
};

class BiasLm {
 public:
  // vocab_size: the ASR vocabulary size (labels above it score 0, as FunASR's phone-set bound).
  BiasLm(const std::vector<BiasEntry>& entries, float inc_bias, int vocab_size);

  bool empty() const { return nodes_.size() <= 1; }
  std::size_t num_states() const { return nodes_.size(); }

  // Score of consuming token `label` (a vocabulary id, not blank) in bias state `state`;
  // sets `next_state`. State 0 is the root (no partial match).
  float score(int32_t state, int label, int32_t& next_state) const;

 private:
  struct Node {
    std::vector<std::pair<int, int32_t>> children;  // (label, node), sorted by label
    float final_weight = 0.0f;
    bool is_final = false;
    float depth_score = 0.0f;   // inc_bias * depth
    int32_t back_off = -1;      // failure link (-1 for the root)
    float back_off_score = 0.0f;
  };
  int32_t child(int32_t node, int label) const;

  std::vector<Node> nodes_;
  float inc_bias_ = 0.0f;
  int vocab_size_ = 0;
};

}  // namespace paraserve::lm
