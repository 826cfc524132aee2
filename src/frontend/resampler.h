// Streaming sample-rate converter (libsoxr, high quality) with the filter state carried
// across calls, so audio fed in pieces converts like one buffer. Equal rates: identity copy.
#pragma once
#include <cstddef>
#include <span>
#include <vector>

namespace paraserve {

class StreamingResampler {
 public:
  StreamingResampler(int in_rate, int out_rate = 16000);  // throws paraserve::Error on bad rates
  ~StreamingResampler();
  StreamingResampler(StreamingResampler&& other) noexcept;
  StreamingResampler& operator=(StreamingResampler&& other) noexcept;
  StreamingResampler(const StreamingResampler&) = delete;
  StreamingResampler& operator=(const StreamingResampler&) = delete;

  // Appends the output available so far (the filter delay is held back until flush()).
  void process(std::span<const float> in, std::vector<float>& out);
  // Appends the held-back tail; afterwards the resampler is reset for a new stream.
  void flush(std::vector<float>& out);
  void reset();

  int in_rate() const { return in_rate_; }
  int out_rate() const { return out_rate_; }
  bool is_identity() const { return in_rate_ == out_rate_; }

 private:
  void drain(const float* in, std::size_t in_len, std::vector<float>& out);
  int in_rate_, out_rate_;
  void* soxr_ = nullptr;  // soxr_t; null for the identity path
};

}  // namespace paraserve
