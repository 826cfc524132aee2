// Low frame rate (LFR) splicing: stack m consecutive fbank frames every n frames.
// Offline form = FunASR paraformer.cpp `LfrCmvn`; streaming form = paraformer-online.cpp /
// fsmn-vad-online.cpp `ExtractFeats` + `OnlineLfrCmvn` (CMVN is applied separately, cmvn.h).
#pragma once
#include <cstddef>
#include <vector>

namespace paraserve {

// Pads the start with (m-1)/2 copies of frame 0 and emits ceil(T/n) frames of m*dim floats
// (the last windows repeat the last frame to fill). Appends to `out`. T == 0 emits nothing.
void lfr_offline(const float* frames, int T, int dim, int m, int n, std::vector<float>& out);

// Number of frames lfr_offline emits for T input frames.
int lfr_offline_frames(int T, int n);

class StreamingLfr {
 public:
  StreamingLfr(int m, int n, int dim);  // throws paraserve::Error on m, n, dim < 1

  // Appends the LFR frames (m*dim floats each) that become available to `out` and returns
  // their count. FunASR rules reproduced exactly:
  //  * at segment start the splice cache is seeded with (m-1)/2 copies of the first frame;
  //  * while cache + T < m the frames are only cached (and, if `finished`, dropped: FunASR
  //    resets without emitting in that case);
  //  * otherwise windows i < ceil((cache+T - (m-1)/2)/n) are emitted while complete; when
  //    `finished`, incomplete windows are padded with the last frame;
  //  * a call with T == 0 and `finished` flushes the cache with padding;
  //  * after a `finished` call the state is reset (next call starts a new segment).
  int accept(const float* frames, int T, bool finished, std::vector<float>& out);
  void reset();
  int cached_frames() const { return static_cast<int>(cache_.size() / static_cast<std::size_t>(dim_)); }
  std::size_t state_bytes() const;
  int m() const { return m_; }
  int n() const { return n_; }
  int in_dim() const { return dim_; }
  int out_dim() const { return m_ * dim_; }

 private:
  int m_, n_, dim_;
  std::vector<float> cache_;  // un-consumed frames; fewer than m (capacity (m+n)*dim)
};

}  // namespace paraserve
