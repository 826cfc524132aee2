#include "frontend/resampler.h"

#include <soxr.h>

#include <string>
#include <utility>

#include "common/error.h"

namespace paraserve {

StreamingResampler::StreamingResampler(int in_rate, int out_rate) : in_rate_(in_rate), out_rate_(out_rate) {
  if (in_rate < 1000 || in_rate > 768000 || out_rate < 1000 || out_rate > 768000)
    throw Error("resampler: sample rates must be in [1000, 768000] Hz (got " + std::to_string(in_rate) + " -> " +
                std::to_string(out_rate) + ")");
  if (is_identity()) return;
  soxr_error_t err = nullptr;
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
  soxr_ = soxr_create(in_rate, out_rate, 1, &err, &io, &q, nullptr);
  if (err || !soxr_)
    throw Error(std::string("resampler: soxr_create failed: ") + (err ? err : "unknown error"));
}

StreamingResampler::~StreamingResampler() {
  if (soxr_) soxr_delete(static_cast<soxr_t>(soxr_));
}

StreamingResampler::StreamingResampler(StreamingResampler&& o) noexcept
    : in_rate_(o.in_rate_), out_rate_(o.out_rate_), soxr_(std::exchange(o.soxr_, nullptr)) {}

StreamingResampler& StreamingResampler::operator=(StreamingResampler&& o) noexcept {
  if (this != &o) {
    if (soxr_) soxr_delete(static_cast<soxr_t>(soxr_));
    in_rate_ = o.in_rate_;
    out_rate_ = o.out_rate_;
    soxr_ = std::exchange(o.soxr_, nullptr);
  }
  return *this;
}

void StreamingResampler::drain(const float* in, std::size_t in_len, std::vector<float>& out) {
  auto* s = static_cast<soxr_t>(soxr_);
  // Output for this input plus some of the held-back delay; grow in steps until soxr stops.
  const std::size_t step =
      static_cast<std::size_t>(static_cast<double>(in_len) * out_rate_ / in_rate_) + 256;
  for (;;) {
    const std::size_t base = out.size();
    out.resize(base + step);
    std::size_t idone = 0, odone = 0;
    soxr_error_t err = soxr_process(s, in, in_len, &idone, out.data() + base, step, &odone);
    out.resize(base + odone);
    if (err) throw Error(std::string("resampler: soxr_process failed: ") + err);
    if (in) {
      in += idone;
      in_len -= idone;
    }
    if (in_len == 0 && odone < step) break;  // all input taken and output not limited by space
  }
}

void StreamingResampler::process(std::span<const float> in, std::vector<float>& out) {
  if (is_identity()) {
    out.insert(out.end(), in.begin(), in.end());
    return;
  }
  if (in.empty()) return;
  drain(in.data(), in.size(), out);
}

void StreamingResampler::flush(std::vector<float>& out) {
  if (is_identity()) return;
  drain(nullptr, 0, out);  // null input = end of input: soxr emits the filter tail
  reset();
}

void StreamingResampler::reset() {
  if (soxr_) soxr_clear(static_cast<soxr_t>(soxr_));
}

}  // namespace paraserve
