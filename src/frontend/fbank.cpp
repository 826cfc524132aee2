#include "frontend/fbank.h"

#include <fftw3.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <mutex>
#include <numbers>

#include "common/error.h"

namespace paraserve {
namespace {

// fftw's planner (plan creation and destruction) uses process-wide state and is not
// thread-safe; execution of an existing plan is. This mutex serialises planning only.
std::mutex& fftw_planner_mutex() {
  static std::mutex m;
  return m;
}

float mel_scale(float hz) { return 1127.0f * std::log(1.0f + hz / 700.0f); }

int round_up_pow2(int n) {
  int p = 1;
  while (p < n) p <<= 1;
  return p;
}

int window_samples(int sample_rate, float ms) {
  // Same expression as Kaldi's FrameExtractionOptions::WindowSize()/WindowShift().
  return static_cast<int>(static_cast<float>(sample_rate) * 0.001f * ms);
}

std::vector<float> make_window(const std::string& type, int n) {
  std::vector<float> w(static_cast<std::size_t>(n));
  const double a = 2.0 * std::numbers::pi / (n - 1);
  for (int i = 0; i < n; ++i) {
    const double x = a * i;
    double v = 1.0;
    if (type == "hamming") v = 0.54 - 0.46 * std::cos(x);
    else if (type == "hanning") v = 0.5 - 0.5 * std::cos(x);
    else if (type == "povey") v = std::pow(0.5 - 0.5 * std::cos(x), 0.85);
    else if (type == "sine") v = std::sin(0.5 * x);
    else if (type == "blackman") v = 0.42 - 0.5 * std::cos(x) + 0.08 * std::cos(2 * x);
    w[static_cast<std::size_t>(i)] = static_cast<float>(v);
  }
  return w;
}

}  // namespace

void FbankOptions::validate() const {
  auto fail = [](const std::string& msg) { throw Error("fbank options: " + msg); };
  if (sample_rate < 1000 || sample_rate > 384000)
    fail("sample_rate " + std::to_string(sample_rate) + " out of range [1000, 384000]");
  if (!(frame_length_ms > 0) || !(frame_shift_ms > 0))
    fail("frame_length_ms and frame_shift_ms must be > 0");
  if (window_samples(sample_rate, frame_length_ms) < 2 || window_samples(sample_rate, frame_shift_ms) < 1)
    fail("frame_length_ms/frame_shift_ms too small for sample_rate " + std::to_string(sample_rate));
  if (n_mels < 3 || n_mels > 1024) fail("n_mels " + std::to_string(n_mels) + " out of range [3, 1024]");
  static constexpr const char* kWindows[] = {"hamming", "hanning", "povey", "rectangular", "sine", "blackman"};
  if (std::find(std::begin(kWindows), std::end(kWindows), window) == std::end(kWindows))
    fail("window '" + window + "' is not one of hamming, hanning, povey, rectangular, sine, blackman");
  const float nyquist = 0.5f * static_cast<float>(sample_rate);
  const float hi = high_freq > 0 ? high_freq : nyquist + high_freq;
  if (low_freq < 0 || low_freq >= nyquist || hi <= 0 || hi > nyquist || hi <= low_freq)
    fail("low_freq " + std::to_string(low_freq) + " / high_freq " + std::to_string(high_freq) +
         " must satisfy 0 <= low < high <= Nyquist (" + std::to_string(nyquist) + ")");
  if (!(preemph >= 0.0f && preemph <= 1.0f)) fail("preemph must be in [0, 1]");
}

void FbankWorkspace::FftwFree::operator()(void* p) const { fftwf_free(p); }
FbankWorkspace::~FbankWorkspace() = default;

FbankComputer::FbankComputer(const FbankOptions& opts) : opts_(opts) {
  opts_.validate();
  frame_length_ = window_samples(opts_.sample_rate, opts_.frame_length_ms);
  frame_shift_ = window_samples(opts_.sample_rate, opts_.frame_shift_ms);
  padded_length_ = round_up_pow2(frame_length_);
  window_ = make_window(opts_.window, frame_length_);

  // Kaldi mel banks: triangles equally spaced on the mel scale between low and high freq,
  // evaluated at the centre frequency of FFT bins [0, padded/2) (the Nyquist bin is unused).
  const int num_fft_bins = padded_length_ / 2;
  const float nyquist = 0.5f * static_cast<float>(opts_.sample_rate);
  const float high = opts_.high_freq > 0 ? opts_.high_freq : nyquist + opts_.high_freq;
  const float bin_width = static_cast<float>(opts_.sample_rate) / static_cast<float>(padded_length_);
  const float mel_low = mel_scale(opts_.low_freq), mel_high = mel_scale(high);
  const float delta = (mel_high - mel_low) / static_cast<float>(opts_.n_mels + 1);
  for (int b = 0; b < opts_.n_mels; ++b) {
    const float left = mel_low + static_cast<float>(b) * delta;
    const float center = mel_low + static_cast<float>(b + 1) * delta;
    const float right = mel_low + static_cast<float>(b + 2) * delta;
    int first = -1, last = -1;
    std::vector<float> w;
    for (int i = 0; i < num_fft_bins; ++i) {
      const float mel = mel_scale(bin_width * static_cast<float>(i));
      if (mel > left && mel < right) {
        if (first < 0) first = i;
        // Bins inside (left, right) are contiguous, so the sparse form is a dense run.
        w.resize(static_cast<std::size_t>(i - first + 1), 0.0f);
        w.back() = mel <= center ? (mel - left) / (center - left) : (right - mel) / (right - center);
        last = i;
      }
    }
    if (first < 0)
      throw Error("fbank options: n_mels " + std::to_string(opts_.n_mels) +
                  " is too large for the FFT size (mel bin " + std::to_string(b) + " is empty)");
    mel_start_.push_back(first);
    mel_len_.push_back(last - first + 1);
    mel_offset_.push_back(static_cast<int>(mel_weights_.size()));
    mel_weights_.insert(mel_weights_.end(), w.begin(), w.end());
  }

  FbankWorkspace ws = make_workspace();
  std::lock_guard lock(fftw_planner_mutex());
  plan_ = fftwf_plan_dft_r2c_1d(padded_length_, ws.time_.get(),
                                reinterpret_cast<fftwf_complex*>(ws.spec_.get()), FFTW_ESTIMATE);
  if (!plan_) throw Error("fbank: fftwf_plan_dft_r2c_1d failed for size " + std::to_string(padded_length_));
}

FbankComputer::~FbankComputer() {
  std::lock_guard lock(fftw_planner_mutex());
  fftwf_destroy_plan(static_cast<fftwf_plan>(plan_));
}

FbankWorkspace FbankComputer::make_workspace() const {
  FbankWorkspace ws;
  const auto n = static_cast<std::size_t>(padded_length_);
  ws.padded_length_ = padded_length_;
  ws.time_.reset(fftwf_alloc_real(n));
  ws.spec_.reset(reinterpret_cast<float*>(fftwf_alloc_complex(n / 2 + 1)));
  if (!ws.time_ || !ws.spec_) throw std::bad_alloc();
  std::memset(ws.time_.get(), 0, n * sizeof(float));
  ws.power_.assign(n / 2 + 1, 0.0f);
  return ws;
}

int FbankComputer::num_frames(std::size_t num_samples) const {
  const auto len = static_cast<std::size_t>(frame_length_);
  if (num_samples < len) return 0;
  return static_cast<int>((num_samples - len) / static_cast<std::size_t>(frame_shift_) + 1);
}

void FbankComputer::compute_frame(const float* frame, float* feat, FbankWorkspace& ws) const {
  float* x = ws.time_.get();
  const int n = frame_length_;
  std::copy(frame, frame + n, x);
  if (opts_.remove_dc) {
    float sum = 0;
    for (int i = 0; i < n; ++i) sum += x[i];
    const float mean = sum / static_cast<float>(n);
    for (int i = 0; i < n; ++i) x[i] -= mean;
  }
  if (opts_.preemph != 0.0f) {
    // Kaldi order: from the end down to 1, then x[0] -= c * x[0].
    const float c = opts_.preemph;
    for (int i = n - 1; i > 0; --i) x[i] -= c * x[i - 1];
    x[0] -= c * x[0];
  }
  const float* w = window_.data();
  for (int i = 0; i < n; ++i) x[i] *= w[i];
  std::fill(x + n, x + padded_length_, 0.0f);  // zero padding (the FFT input is read-only)

  fftwf_execute_dft_r2c(static_cast<fftwf_plan>(plan_), x, reinterpret_cast<fftwf_complex*>(ws.spec_.get()));
  const float* s = ws.spec_.get();
  float* p = ws.power_.data();
  const int bins = padded_length_ / 2 + 1;
  for (int k = 0; k < bins; ++k) p[k] = s[2 * k] * s[2 * k] + s[2 * k + 1] * s[2 * k + 1];

  for (int b = 0; b < opts_.n_mels; ++b) {
    const float* wt = mel_weights_.data() + mel_offset_[static_cast<std::size_t>(b)];
    const float* pp = p + mel_start_[static_cast<std::size_t>(b)];
    const int len = mel_len_[static_cast<std::size_t>(b)];
    float e = 0;
    for (int k = 0; k < len; ++k) e += wt[k] * pp[k];
    feat[b] = std::log(std::max(e, FLT_EPSILON));
  }
}

void FbankComputer::compute(std::span<const float> samples, std::vector<float>& out, FbankWorkspace& ws) const {
  if (ws.padded_length_ != padded_length_)
    throw Error("fbank: workspace was made for FFT size " + std::to_string(ws.padded_length_) +
                ", computer needs " + std::to_string(padded_length_));
  const int frames = num_frames(samples.size());
  if (frames == 0) return;
  const std::size_t base = out.size();
  out.resize(base + static_cast<std::size_t>(frames) * static_cast<std::size_t>(dim()));
  for (int f = 0; f < frames; ++f) {
    compute_frame(samples.data() + static_cast<std::size_t>(f) * static_cast<std::size_t>(frame_shift_),
                  out.data() + base + static_cast<std::size_t>(f) * static_cast<std::size_t>(dim()), ws);
  }
}

void FbankComputer::compute(std::span<const float> samples, std::vector<float>& out) const {
  FbankWorkspace ws = make_workspace();
  compute(samples, out, ws);
}

// ---------------------------------------------------------------------------------------

StreamingFbank::StreamingFbank(const FbankComputer& computer)
    : computer_(&computer), ws_(computer.make_workspace()) {
  buf_.reserve(static_cast<std::size_t>(computer.frame_length() + computer.frame_shift()));
}

int StreamingFbank::accept(std::span<const float> samples, std::vector<float>& out_frames) {
  // Conceptually FunASR's `input_cache_ + waves`; frames are cut from the joined buffer and
  // the samples from the next frame's start on are kept.
  buf_.insert(buf_.end(), samples.begin(), samples.end());
  const int frames = computer_->num_frames(buf_.size());
  if (frames == 0) return 0;
  computer_->compute(std::span<const float>(buf_), out_frames, ws_);
  const auto consumed = static_cast<std::size_t>(frames) * static_cast<std::size_t>(computer_->frame_shift());
  buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(consumed));
  return frames;
}

void StreamingFbank::reset() { buf_.clear(); }

std::size_t StreamingFbank::state_bytes() const {
  // Carried samples + the workspace (time buffer, complex spectrum, power spectrum).
  const auto padded = static_cast<std::size_t>(computer_->padded_length());
  return buf_.capacity() * sizeof(float) + (padded + (padded / 2 + 1) * 3) * sizeof(float) + sizeof(*this);
}

}  // namespace paraserve
