// Streaming CIF (continuous integrate-and-fire) search with carried state, as FunASR's
// ParaformerOnline::CifSearch (funasr-compat.md §3.3.6, paraformer-online.cpp:270-345).
// The floating-point order of operations is FunASR's, so fires happen on the same frames.
#pragma once
#include <vector>

namespace paraserve {

struct CifState {
  std::vector<float> hidden;  // carried hidden row (dim): accumulator / alpha, or raw
  float alpha = 0.0f;         // carried integrate value
  std::vector<float> frames;  // scratch accumulator (dim), kept to avoid per-call allocation

  // The state after FunASR's InitCache: a zero row with alpha 0. Call at segment start and
  // after the last chunk of a segment (FunASR resets after its last chunk).
  void reset(int dim);
};

// hidden: T x dim encoder rows; alphas: T. Only frames in [chunk_left, chunk_left +
// chunk_cur) integrate (the others' alphas count as 0). The carried row/alpha is
// integrated first; on the last chunk a zero row with alpha `tail_alpha` (0.45 in FunASR)
// is integrated last. Each fire appends one dim-sized embedding to `fired`; `n_fired`
// receives the number appended by this call. The carry-out is stored in `state`.
// Throws paraserve::Error if state.hidden.size() != dim (state not reset for this dim).
void cif_search(const float* hidden, const float* alphas, int T, int dim, int chunk_left,
                int chunk_cur, bool is_last, float tail_alpha, float threshold, CifState& state,
                std::vector<float>& fired, int& n_fired);

}  // namespace paraserve
