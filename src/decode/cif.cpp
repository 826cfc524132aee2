#include "decode/cif.h"

#include <algorithm>
#include <string>

#include "common/error.h"

namespace paraserve {

void CifState::reset(int dim) {
  hidden.assign(static_cast<size_t>(std::max(dim, 0)), 0.0f);
  alpha = 0.0f;
  frames.assign(hidden.size(), 0.0f);
}

namespace {

// One integrate-and-fire step, in FunASR's order of float operations.
inline void integrate(const float* row, float alpha, int dim, float threshold, float& acc,
                      std::vector<float>& frames, std::vector<float>& fired, int& n_fired) {
  if (alpha + acc < threshold) {
    acc += alpha;
    for (int j = 0; j < dim; ++j) frames[j] += alpha * row[j];
  } else {
    const float rest = threshold - acc;
    for (int j = 0; j < dim; ++j) frames[j] += rest * row[j];
    fired.insert(fired.end(), frames.begin(), frames.end());
    ++n_fired;
    acc += alpha;
    acc -= threshold;
    for (int j = 0; j < dim; ++j) frames[j] = acc * row[j];
  }
}

}  // namespace

void cif_search(const float* hidden, const float* alphas, int T, int dim, int chunk_left,
                int chunk_cur, bool is_last, float tail_alpha, float threshold, CifState& state,
                std::vector<float>& fired, int& n_fired) {
  n_fired = 0;
  if (dim < 0 || T < 0) throw Error("cif_search: negative T or dim");
  if (state.hidden.size() != static_cast<size_t>(dim)) {
    throw Error("cif_search: carried CIF state has dim " + std::to_string(state.hidden.size()) +
                ", expected " + std::to_string(dim) + " (call CifState::reset(dim) first)");
  }
  state.frames.assign(static_cast<size_t>(dim), 0.0f);  // no reallocation after the first call
  float acc = 0.0f;

  // The carried row comes first (FunASR prepends hidden_cache_ / alphas_cache_).
  integrate(state.hidden.data(), state.alpha, dim, threshold, acc, state.frames, fired, n_fired);

  // Only the current chunk's frames integrate: alphas of the left context and of the
  // right look-ahead are zeroed (FunASR writes 0 into [0, left) and [left + cur, T)).
  const int lo = chunk_left;
  const int hi = chunk_left + chunk_cur;
  for (int t = 0; t < T; ++t) {
    const float a = (t < lo || t >= hi) ? 0.0f : alphas[t];
    integrate(hidden + static_cast<size_t>(t) * static_cast<size_t>(dim), a, dim, threshold, acc,
              state.frames, fired, n_fired);
  }

  if (is_last) {
    // A zero row with the tail alpha flushes the remaining weight on the segment's last chunk.
    // Its contribution to the accumulator is alpha * 0 = 0, so only `acc` and the fire change.
    std::fill(state.hidden.begin(), state.hidden.end(), 0.0f);
    integrate(state.hidden.data(), tail_alpha, dim, threshold, acc, state.frames, fired,
              n_fired);
  }

  // Carry-out: the accumulated row normalised by its weight (raw when the weight is 0).
  state.alpha = acc;
  if (acc > 0.0f) {
    for (int j = 0; j < dim; ++j) state.hidden[j] = state.frames[j] / acc;
  } else {
    std::copy(state.frames.begin(), state.frames.end(), state.hidden.begin());
  }
}

}  // namespace paraserve
