// Token-passing Viterbi beam search of per-token log-posteriors through a TLG graph, the
// search FunASR runs for its n-gram LM (Kaldi's LatticeFasterOnlineDecoder as vendored and
// modified by FunASR; funasr-compat.md §3.7). Only the best path is kept: each token holds a
// back-pointer, which is what the online decoder's GetBestPath follows, so the lattice (and
// the lattice beam, which only prunes it) does not change the result. See docs/server.md,
// "Language model and hotwords", for the equivalence argument.
//
// One WfstSearch is per-use scratch (not thread-safe); the graph and the bias graph are shared
// read-only. All state is reset at the start of each decode(); capacity is kept for reuse and
// can be trimmed with shrink_to().
#pragma once
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include <fst/const-fst.h>
#include <fst/float-weight.h>

namespace paraserve::lm {

class BiasLm;

using Graph = fst::ConstFst<fst::StdArc>;

struct SearchOptions {
  float beam = 3.0f;          // --global-beam (FunASR 3.0)
  float lattice_beam = 3.0f;  // --lattice-beam (FunASR 3.0): prunes only the lattice; no effect on the best path
  float am_scale = 10.0f;     // --am-scale (FunASR 10.0): log-likelihood = am_scale * log-posterior
  // Kaldi's LatticeFasterDecoderConfig defaults, as FunASR uses them.
  int max_active = std::numeric_limits<int>::max();
  int min_active = 200;
  float beam_delta = 0.5f;
  float hash_ratio = 2.0f;
  void validate() const;  // throws paraserve::Error naming the option
};

class WfstSearch {
 public:
  // logp: rows x vocab log-posteriors (the caller passes the rows FunASR feeds: all but the
  // final </s> row). Graph input label k scores logp[row][k-1]; labels beyond the vocabulary
  // are never taken. Appends nothing on failure: `words` is cleared first and holds the best
  // path's non-epsilon output labels. Returns false when no token survived.
  bool decode(const Graph& graph, const float* logp, int rows, int vocab, const SearchOptions& options,
              const BiasLm* bias, std::vector<int>& words);

  // Bytes held by the scratch vectors (capacity).
  std::size_t bytes() const;
  // Releases the buffers if they hold more than `max_bytes`.
  void shrink_to(std::size_t max_bytes);

  // Number of tokens that were alive after each frame of the last decode (tests, metrics).
  const std::vector<int>& active_per_frame() const { return active_counts_; }

 private:
  struct Token {
    float cost;
    int32_t state;
    int32_t trace;       // index into trace_
    int32_t bias_state;
  };
  struct Trace {
    int32_t prev;    // -1 at the start token
    int32_t olabel;
  };
  // Kaldi's HashList iteration order (buckets in order of first use, elements in insertion
  // order within a bucket), so that ties and order-dependent pruning match the reference.
  struct Elem {
    int32_t state;
    int32_t tok;
    int32_t tail;
  };
  struct Bucket {
    int32_t last = -1;
    int32_t prev_bucket = -1;
  };

  void init(const Graph& graph);
  float process_emitting(const Graph& graph, const float* row, int vocab, const SearchOptions& o, const BiasLm* bias);
  void process_nonemitting(const Graph& graph, float cutoff);
  // Returns the element index of the state's token on the current frame, adding one if needed.
  int32_t find_or_add(int32_t state, float cost, int32_t prev_trace, int32_t olabel, int32_t bias_state,
                      bool* changed);
  void clear_hash();
  float get_cutoff(const SearchOptions& o, float* adaptive_beam, int32_t* best_elem);

  std::vector<Token> toks_;       // tokens of the current frame (creation order)
  std::vector<Token> prev_toks_;  // tokens of the previous frame
  std::vector<Elem> elems_;       // current frame's hash list
  std::vector<Elem> prev_elems_;
  int32_t list_head_ = -1, prev_list_head_ = -1;
  std::vector<Bucket> buckets_;
  int32_t bucket_list_tail_ = -1;
  std::size_t hash_size_ = 1000;
  std::vector<Trace> trace_;
  std::vector<int32_t> queue_;
  std::vector<float> tmp_costs_;
  std::vector<int> active_counts_;
};

}  // namespace paraserve::lm
