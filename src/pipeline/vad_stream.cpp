#include "pipeline/vad_stream.h"

#include <algorithm>
#include <string>

#include "common/error.h"

namespace paraserve {

namespace {

constexpr float kInt16Scale = 32768.0f;  // FunASR feeds the fbank int16-range samples

std::shared_ptr<const FbankComputer> fbank_for(const std::shared_ptr<const VadModel>& model,
                                               std::shared_ptr<const FbankComputer> fbank) {
  if (!model) throw Error("VadStream: no VAD model given");
  if (fbank) return fbank;
  return std::make_shared<const FbankComputer>(model->config().fbank);
}

}  // namespace

VadOptions vad_options_from(const VadConfig& config) {
  VadOptions o;
  o.sample_rate = config.fbank.sample_rate;
  o.max_end_silence_time = config.max_end_silence_time;
  o.max_single_segment_time = config.max_single_segment_time;
  o.speech_noise_thres = config.speech_noise_thres;
  o.validate();
  return o;
}

VadStream::VadStream(std::shared_ptr<const VadModel> model, std::shared_ptr<const FbankComputer> fbank)
    : model_(std::move(model)),
      fbank_computer_(fbank_for(model_, std::move(fbank))),
      fbank_(*fbank_computer_),
      lfr_(model_->config().lfr_m, model_->config().lfr_n, fbank_computer_->dim()),
      vad_(vad_options_from(model_->config())) {
  if (lfr_.n() != 1) throw Error("VadStream: LFR n must be 1 (FunASR hard-codes LFR 5/1 for the VAD)");
  if (lfr_.out_dim() != VadModel::kFeatDim) {
    throw Error("VadStream: LFR(" + std::to_string(lfr_.m()) + "," + std::to_string(lfr_.n()) + ") of " +
                std::to_string(fbank_computer_->dim()) + " mel bins gives " + std::to_string(lfr_.out_dim()) +
                "-dim features; the FSMN-VAD model expects " + std::to_string(VadModel::kFeatDim));
  }
  for (auto& c : caches_) c.assign(VadModel::kCacheFloats, 0.0f);
  // Sized for FunASR's 800-sample pieces (5 fbank frames); larger pieces grow them once.
  const std::size_t flen = static_cast<std::size_t>(fbank_computer_->frame_length());
  dec_tail_.reserve(flen + 1600);
  dec_pending_.reserve(64);
  scaled_.reserve(1600);
  fbank_out_.reserve(static_cast<std::size_t>(16 * fbank_computer_->dim()));
  lfr_out_.reserve(static_cast<std::size_t>(16 * VadModel::kFeatDim));
  probs_.reserve(static_cast<std::size_t>(16 * VadModel::kNumPdfs));
}

void VadStream::reset() {
  fbank_.reset();
  lfr_.reset();
  vad_.reset();
  for (auto& c : caches_) std::fill(c.begin(), c.end(), 0.0f);
  dec_tail_.clear();
  dec_pending_.clear();
}

std::size_t VadStream::state_bytes() const {
  std::size_t bytes = sizeof(*this) + fbank_.state_bytes() + lfr_.state_bytes() + vad_.state_bytes();
  for (const auto& c : caches_) bytes += c.capacity() * sizeof(float);
  for (const auto* v : {&dec_tail_, &dec_pending_, &scaled_, &fbank_out_, &lfr_out_, &probs_}) {
    bytes += v->capacity() * sizeof(float);
  }
  return bytes;
}

void VadStream::accept(std::span<const float> samples, bool input_finished, std::vector<VadSegmentEdge>& out) {
  // Decibel of each fbank frame, framed exactly like the fbank (snip edges, carried tail).
  const std::size_t flen = static_cast<std::size_t>(fbank_computer_->frame_length());
  const std::size_t fshift = static_cast<std::size_t>(fbank_computer_->frame_shift());
  dec_tail_.insert(dec_tail_.end(), samples.begin(), samples.end());
  std::size_t off = 0;
  for (; off + flen <= dec_tail_.size(); off += fshift) {
    dec_pending_.push_back(frame_decibel(dec_tail_.data() + off, static_cast<int>(flen)));
  }
  dec_tail_.erase(dec_tail_.begin(), dec_tail_.begin() + static_cast<std::ptrdiff_t>(std::min(off, dec_tail_.size())));

  scaled_.resize(samples.size());
  std::transform(samples.begin(), samples.end(), scaled_.begin(), [](float x) { return x * kInt16Scale; });
  fbank_out_.clear();
  const int frames = fbank_.accept(scaled_, fbank_out_);

  lfr_out_.clear();
  const int n = lfr_.accept(fbank_out_.data(), frames, input_finished, lfr_out_);
  if (input_finished) {
    // FunASR resets the FSMN caches before the last forward pass (fsmn-vad-online.cpp:84-87).
    for (auto& c : caches_) std::fill(c.begin(), c.end(), 0.0f);
  }
  if (n > 0) {
    model_->cmvn().apply(lfr_out_.data(), n, lfr_.out_dim());
    model_->run(lfr_out_.data(), n, {caches_[0].data(), caches_[1].data(), caches_[2].data(), caches_[3].data()},
                !input_finished, probs_);
    // LFR frame k is centred on fbank frame k, so the oldest pending decibels belong to it.
    if (dec_pending_.size() < static_cast<std::size_t>(n)) {
      throw Error("VadStream: internal error: " + std::to_string(n) + " LFR frames but " +
                  std::to_string(dec_pending_.size()) + " frame decibels");
    }
    const int num_pdfs = static_cast<int>(probs_.size() / static_cast<std::size_t>(n));
    vad_.accept(probs_.data(), n, num_pdfs, std::span<const float>(dec_pending_.data(), static_cast<std::size_t>(n)),
                input_finished, out);
    dec_pending_.erase(dec_pending_.begin(), dec_pending_.begin() + n);
  }
  if (input_finished) reset();  // no features: FunASR skips the scorer, which is fresh then anyway
}

std::vector<std::pair<int64_t, int64_t>> vad_segments_offline(const VadModel& model, std::span<const float> samples) {
  const VadConfig& cfg = model.config();
  FbankComputer fbank(cfg.fbank);
  std::vector<float> scaled(samples.size());
  std::transform(samples.begin(), samples.end(), scaled.begin(), [](float x) { return x * kInt16Scale; });
  std::vector<float> feats;
  fbank.compute(scaled, feats);
  const int T = static_cast<int>(feats.size() / static_cast<std::size_t>(fbank.dim()));
  if (T == 0) return {};
  std::vector<float> lfr;
  lfr_offline(feats.data(), T, fbank.dim(), cfg.lfr_m, cfg.lfr_n, lfr);
  const int dim = cfg.lfr_m * fbank.dim();
  if (dim != VadModel::kFeatDim) {
    throw Error("vad: LFR features have " + std::to_string(dim) + " dims; the FSMN-VAD model expects " +
                std::to_string(VadModel::kFeatDim));
  }
  const int n = lfr_offline_frames(T, cfg.lfr_n);
  model.cmvn().apply(lfr.data(), n, dim);
  std::array<std::vector<float>, 4> caches;
  for (auto& c : caches) c.assign(VadModel::kCacheFloats, 0.0f);
  std::vector<float> probs;
  model.run(lfr.data(), n, {caches[0].data(), caches[1].data(), caches[2].data(), caches[3].data()}, false, probs);
  std::vector<float> decibels;
  frame_decibels(samples, fbank.frame_length(), fbank.frame_shift(), decibels);
  decibels.resize(static_cast<std::size_t>(n));  // n == T for LFR n = 1
  return E2eVad::offline(vad_options_from(cfg), probs.data(), n,
                         static_cast<int>(probs.size() / static_cast<std::size_t>(n)), decibels);
}

}  // namespace paraserve
