// Kaldi-compatible log-mel filterbank (the kaldi-native-fbank variant vendored by FunASR's
// C++ runtime): snip-edges framing, remove DC -> pre-emphasis -> window, zero-padded
// power-of-two real FFT (fftw3f), power spectrum, Kaldi mel bins, log floored at FLT_EPSILON.
// No dither, no energy. Input samples are expected in int16 scale (float wave * 32768).
#pragma once
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace paraserve {

struct FbankOptions {
  int sample_rate = 16000;
  float frame_length_ms = 25;
  float frame_shift_ms = 10;
  int n_mels = 80;
  std::string window = "hamming";  // hamming | hanning | povey | rectangular | sine | blackman
  float low_freq = 20;
  float high_freq = 0;  // <= 0: offset from Nyquist (Kaldi convention)
  float preemph = 0.97f;
  bool remove_dc = true;
  // Throws paraserve::Error("fbank options: <field> ...") on an invalid value.
  void validate() const;
};

// Per-thread scratch buffers for FbankComputer::compute (fftw-aligned). Reuse one per
// stream/thread so that the per-frame path never allocates.
class FbankWorkspace {
 public:
  FbankWorkspace() = default;
  FbankWorkspace(FbankWorkspace&&) noexcept = default;
  FbankWorkspace& operator=(FbankWorkspace&&) noexcept = default;
  ~FbankWorkspace();

 private:
  friend class FbankComputer;
  struct FftwFree { void operator()(void* p) const; };
  std::unique_ptr<float, FftwFree> time_;     // padded_length floats
  std::unique_ptr<float, FftwFree> spec_;     // (padded_length/2 + 1) complex values
  std::vector<float> power_;                  // padded_length/2 + 1
  int padded_length_ = 0;
};

class FbankComputer {  // immutable after construction; compute() is thread-safe
 public:
  explicit FbankComputer(const FbankOptions& opts);
  ~FbankComputer();
  FbankComputer(const FbankComputer&) = delete;
  FbankComputer& operator=(const FbankComputer&) = delete;

  const FbankOptions& options() const { return opts_; }
  int frame_length() const { return frame_length_; }  // samples (400 at 16 kHz)
  int frame_shift() const { return frame_shift_; }    // samples (160 at 16 kHz)
  int padded_length() const { return padded_length_; }  // FFT size (512)
  int dim() const { return opts_.n_mels; }
  int num_frames(std::size_t num_samples) const;  // snip edges: 0 if shorter than a frame

  // Appends num_frames(samples.size()) * dim() floats (row-major) to `out`.
  void compute(std::span<const float> samples, std::vector<float>& out) const;
  // Same, with caller-owned scratch (no allocation apart from growing `out`).
  void compute(std::span<const float> samples, std::vector<float>& out, FbankWorkspace& ws) const;
  // One frame: `frame` has frame_length() samples; writes dim() floats to `feat`.
  void compute_frame(const float* frame, float* feat, FbankWorkspace& ws) const;

  FbankWorkspace make_workspace() const;

 private:
  FbankOptions opts_;
  int frame_length_ = 0;
  int frame_shift_ = 0;
  int padded_length_ = 0;
  std::vector<float> window_;
  // Sparse mel weights: bin b covers FFT bins [mel_start_[b], mel_start_[b] + mel_len_[b])
  // with weights mel_weights_[mel_offset_[b] ...].
  std::vector<int> mel_start_, mel_len_, mel_offset_;
  std::vector<float> mel_weights_;
  void* plan_ = nullptr;  // fftwf_plan (opaque here to keep fftw3.h out of the header)
};

// FunASR's streaming form (paraformer-online.cpp / fsmn-vad-online.cpp `FbankKaldi`):
// each call prepends the carried samples (`input_cache_`), emits every complete frame and
// carries the samples from the next frame's start on. Feeding audio in any piece sizes
// therefore yields exactly the frames of one offline call. At end of input FunASR simply
// drops the carried tail (fewer than frame_length samples); call reset() for that.
class StreamingFbank {
 public:
  // `computer` is shared (e.g. one per model) and must outlive this object.
  explicit StreamingFbank(const FbankComputer& computer);
  // Appends the newly completed frames (row-major, dim() floats each) to `out_frames`;
  // returns how many frames were appended.
  int accept(std::span<const float> samples, std::vector<float>& out_frames);
  void reset();
  std::size_t pending_samples() const { return buf_.size(); }
  std::size_t state_bytes() const;
  const FbankComputer& computer() const { return *computer_; }

 private:
  const FbankComputer* computer_;
  FbankWorkspace ws_;
  std::vector<float> buf_;  // carried samples (< frame_length after each call)
};

}  // namespace paraserve
