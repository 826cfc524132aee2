#include "frontend/lfr.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "common/error.h"

namespace paraserve {
namespace {

// Emits LFR windows over the virtual sequence `cache` (C frames) followed by `frames`
// (T frames), FunASR `OnlineLfrCmvn` rules. `finished_pad` pads incomplete windows with
// the last frame. Returns the index (in the virtual sequence) of the first frame to keep.
struct Joined {
  const float* cache;
  int C;
  const float* frames;
  int dim;
  const float* row(int k) const {
    return k < C ? cache + static_cast<std::size_t>(k) * dim : frames + static_cast<std::size_t>(k - C) * dim;
  }
};

int splice(const Joined& src, int total, int m, int n, int t_lfr, bool finished, std::vector<float>& out,
           int& emitted) {
  const auto row_bytes = static_cast<std::size_t>(src.dim);
  int keep_from = t_lfr;
  emitted = 0;
  for (int i = 0; i < t_lfr; ++i) {
    const int start = i * n;
    const int avail = total - start;
    if (avail < m && !finished) {
      keep_from = i;
      break;
    }
    const std::size_t base = out.size();
    out.resize(base + static_cast<std::size_t>(m) * row_bytes);
    float* dst = out.data() + base;
    for (int j = 0; j < m; ++j) {
      const int k = j < avail ? start + j : total - 1;  // repeat the last frame to fill
      std::copy_n(src.row(k), row_bytes, dst + static_cast<std::size_t>(j) * row_bytes);
    }
    ++emitted;
  }
  return std::min(total - 1, keep_from * n);
}

}  // namespace

int lfr_offline_frames(int T, int n) { return T <= 0 ? 0 : (T + n - 1) / n; }

void lfr_offline(const float* frames, int T, int dim, int m, int n, std::vector<float>& out) {
  if (m < 1 || n < 1 || dim < 1)
    throw Error("lfr: m, n and dim must be >= 1 (got m=" + std::to_string(m) + ", n=" + std::to_string(n) +
                ", dim=" + std::to_string(dim) + ")");
  if (T <= 0) return;
  // Virtual sequence: (m-1)/2 copies of frame 0, then the T frames.
  const int pad = (m - 1) / 2;
  std::vector<float> head(static_cast<std::size_t>(pad) * dim);
  for (int p = 0; p < pad; ++p) std::copy_n(frames, dim, head.data() + static_cast<std::size_t>(p) * dim);
  const Joined src{head.data(), pad, frames, dim};
  int emitted = 0;
  splice(src, T + pad, m, n, lfr_offline_frames(T, n), /*finished=*/true, out, emitted);
}

StreamingLfr::StreamingLfr(int m, int n, int dim) : m_(m), n_(n), dim_(dim) {
  if (m < 1 || n < 1 || dim < 1)
    throw Error("lfr: m, n and dim must be >= 1 (got m=" + std::to_string(m) + ", n=" + std::to_string(n) +
                ", dim=" + std::to_string(dim) + ")");
  cache_.reserve(static_cast<std::size_t>(m + n) * static_cast<std::size_t>(dim));
}

void StreamingLfr::reset() { cache_.clear(); }

std::size_t StreamingLfr::state_bytes() const { return cache_.capacity() * sizeof(float) + sizeof(*this); }

int StreamingLfr::accept(const float* frames, int T, bool finished, std::vector<float>& out) {
  const auto d = static_cast<std::size_t>(dim_);
  int emitted = 0;
  if (T > 0) {
    if (cache_.empty()) {  // segment start: seed with (m-1)/2 copies of the first frame
      for (int p = 0; p < (m_ - 1) / 2; ++p) cache_.insert(cache_.end(), frames, frames + d);
    }
    const int C = cached_frames();
    if (C + T >= m_) {
      const int total = C + T;
      const int t_lfr = static_cast<int>(std::ceil(static_cast<float>(total - (m_ - 1) / 2) / static_cast<float>(n_)));
      const Joined src{cache_.data(), C, frames, dim_};
      const int keep = splice(src, total, m_, n_, t_lfr, finished, out, emitted);
      // New cache = virtual frames [keep, total).
      if (keep < C) {
        cache_.erase(cache_.begin(), cache_.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(keep) * d));
        cache_.insert(cache_.end(), frames, frames + static_cast<std::size_t>(T) * d);
      } else {
        cache_.assign(frames + static_cast<std::size_t>(keep - C) * d, frames + static_cast<std::size_t>(T) * d);
      }
    } else {
      cache_.insert(cache_.end(), frames, frames + static_cast<std::size_t>(T) * d);
    }
  } else if (finished && !cache_.empty()) {
    const int total = cached_frames();
    const int t_lfr = static_cast<int>(std::ceil(static_cast<float>(total - (m_ - 1) / 2) / static_cast<float>(n_)));
    const Joined src{cache_.data(), total, nullptr, dim_};
    splice(src, total, m_, n_, t_lfr, true, out, emitted);
  }
  if (finished) reset();
  return emitted;
}

}  // namespace paraserve
