#include "pipeline/online_asr_stream.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "decode/text.h"

namespace paraserve {

namespace {
// A final frame shorter than this (60 ms at 16 kHz) after a processed chunk decodes only the
// overlap cache (paraformer-online.cpp: len < 16*60).
constexpr std::size_t kShortFinalSamples = 16 * 60;
}  // namespace

OnlineAsrStream::OnlineAsrStream(const OnlineParaformerModel& model, const FbankComputer& fbank,
                                 ChunkSize chunk, DecodeScratchPool& decode_scratch)
    : model_(model),
      decode_scratch_(decode_scratch),
      chunk_size_(chunk),
      feat_dim_(model.feat_dim()),
      enc_dim_(model.encoder_dim()),
      sqrt_dim_(std::sqrt(static_cast<float>(model.encoder_dim()))),
      fbank_(fbank),
      lfr_(model.config().frontend.lfr_m, model.config().frontend.lfr_n, fbank.dim()) {
  if (chunk.chunk <= 0 || chunk.left < 0 || chunk.right < 0)
    throw Error("chunk_size: expected [left>=0, chunk>0, right>=0]");
  if (lfr_.out_dim() != feat_dim_)
    throw Error("online model: LFR output is " + std::to_string(lfr_.out_dim()) + " floats per frame, encoder expects " +
                std::to_string(feat_dim_));
  // FunASR's constant -ln(10000)/(D/2 - 1) for D = 560, computed per dimension in float.
  const float scale = -0.0330119726594128f;
  inv_timescale_.resize(static_cast<std::size_t>(feat_dim_ / 2));
  for (std::size_t i = 0; i < inv_timescale_.size(); ++i) inv_timescale_[i] = std::exp(static_cast<float>(i) * scale);
  dec_caches_.assign(static_cast<std::size_t>(model.num_caches()) * static_cast<std::size_t>(model.cache_floats()), 0.f);
  dec_cache_ptrs_.resize(static_cast<std::size_t>(model.num_caches()));
  for (int l = 0; l < model.num_caches(); ++l)
    dec_cache_ptrs_[static_cast<std::size_t>(l)] = dec_caches_.data() + static_cast<std::size_t>(l) * model.cache_floats();
  const int window = chunk.left + chunk.chunk + chunk.right;
  chunk_.reserve(static_cast<std::size_t>(window) * feat_dim_);
  feats_cache_.reserve(static_cast<std::size_t>(chunk.left + chunk.right) * feat_dim_);
  reset();
}

void OnlineAsrStream::reset() {
  fbank_.reset();
  lfr_.reset();
  cache_rows_ = chunk_size_.left + chunk_size_.right;
  feats_cache_.assign(static_cast<std::size_t>(cache_rows_) * feat_dim_, 0.f);
  position_ = 0;
  first_chunk_ = true;
  cif_.reset(enc_dim_);
  std::fill(dec_caches_.begin(), dec_caches_.end(), 0.f);
}

void OnlineAsrStream::add_positions(float* frames, int count) {
  const int half = feat_dim_ / 2;
  for (int k = 0; k < count; ++k) {
    const float p = static_cast<float>(position_ + k + 1);
    float* row = frames + static_cast<std::size_t>(k) * feat_dim_;
    for (int i = 0; i < half; ++i) {
      const float arg = inv_timescale_[static_cast<std::size_t>(i)] * p;
      row[i] += std::sin(arg);
      row[i + half] += std::cos(arg);
    }
  }
  position_ += count;
}

int OnlineAsrStream::add_overlap_chunk(int from, int count, bool input_finished, bool last) {
  const std::size_t D = static_cast<std::size_t>(feat_dim_);
  int rows = cache_rows_ + count;
  chunk_.resize(static_cast<std::size_t>(rows) * D);
  std::copy(feats_cache_.begin(), feats_cache_.begin() + static_cast<std::ptrdiff_t>(cache_rows_ * D), chunk_.begin());
  std::copy_n(lfr_out_.data() + static_cast<std::size_t>(from) * D, static_cast<std::size_t>(count) * D,
              chunk_.data() + static_cast<std::size_t>(cache_rows_) * D);
  // The next overlap: the last a+c rows, or only the last a rows when the input finished.
  int keep = input_finished ? chunk_size_.left : chunk_size_.left + chunk_size_.right;
  keep = std::min(keep, rows);
  feats_cache_.assign(chunk_.end() - static_cast<std::ptrdiff_t>(static_cast<std::size_t>(keep) * D), chunk_.end());
  cache_rows_ = keep;
  const int window = chunk_size_.left + chunk_size_.chunk + chunk_size_.right;
  if (input_finished && !last && rows < window) {
    chunk_.resize(static_cast<std::size_t>(window) * D, 0.f);  // zero padding to a full window
    rows = window;
  }
  return rows;
}

void OnlineAsrStream::forward_chunk(int T, bool last, std::string& text) {
  if (T <= 0) return;
  // Step 1 (model): encoder.
  model_.encode(chunk_.data(), T, enc_, alphas_);
  ++encoder_runs_;
  // Step 2 (consume): CIF with the carried state.
  fired_.clear();
  int n_fired = 0;
  const auto& cfg = model_.config();
  cif_search(enc_.data(), alphas_.data(), T, enc_dim_, chunk_size_.left, chunk_size_.chunk, last, cfg.tail_alphas,
             cfg.cif_threshold, cif_, fired_, n_fired);
  // FunASR skips the decoder (and keeps its caches) when nothing fired.
  if (n_fired == 0) return;
  // Step 3 (model): decoder with the per-session FSMN caches.
  auto logits = decode_scratch_.acquire();
  model_.decode(enc_.data(), T, fired_.data(), n_fired, dec_cache_ptrs_, *logits);
  ++decoder_runs_;
  // Step 4 (consume): greedy ids -> text delta.
  greedy_ids(logits->data(), n_fired, model_.vocab_size(), ids_);
  append_ids_to_text(ids_, model_.vocab().tokens(), text);
}

void OnlineAsrStream::forward(std::span<const float> samples, bool is_final, std::string& text) {
  const int a = chunk_size_.left, b = chunk_size_.chunk, c = chunk_size_.right;
  (void)a;
  if (samples.size() < kShortFinalSamples && is_final && !first_chunk_) {
    // Short final frame: decode the overlap cache alone with the CIF tail.
    chunk_.assign(feats_cache_.begin(), feats_cache_.end());
    forward_chunk(cache_rows_, true, text);
    reset();
    return;
  }
  first_chunk_ = false;

  // Prepare: fbank (int16 scale) -> streaming LFR -> CMVN -> x sqrt(D) -> positions.
  scaled_.resize(samples.size());
  for (std::size_t i = 0; i < samples.size(); ++i) scaled_[i] = samples[i] * 32768.0f;
  fbank_out_.clear();
  const int nf = fbank_.accept(scaled_, fbank_out_);
  lfr_out_.clear();
  const int nl = lfr_.accept(fbank_out_.data(), nf, is_final, lfr_out_);
  if (is_final) fbank_.reset();
  if (nl == 0) {
    // FunASR returns nothing here; at a segment end we also reset the model state (FunASR
    // keeps it, which only matters for a following segment made of one very short frame).
    if (is_final) reset();
    return;
  }
  model_.cmvn().apply(lfr_out_.data(), nl, feat_dim_);
  for (std::size_t i = 0; i < static_cast<std::size_t>(nl) * feat_dim_; ++i) lfr_out_[i] *= sqrt_dim_;
  add_positions(lfr_out_.data(), nl);

  if (!is_final) {
    forward_chunk(add_overlap_chunk(0, nl, false, false), false, text);
    return;
  }
  if (nl + c <= b) {
    forward_chunk(add_overlap_chunk(0, nl, true, true), true, text);
  } else {
    // Two passes: all new frames (padded, no tail), then the last nl+c-b frames with the tail.
    forward_chunk(add_overlap_chunk(0, nl, true, false), false, text);
    const int k = nl + c - b;
    forward_chunk(add_overlap_chunk(nl - k, k, true, true), true, text);
  }
  reset();
}

std::size_t OnlineAsrStream::state_bytes() const {
  auto cap = [](const auto& v) { return v.capacity() * sizeof(v[0]); };
  return fbank_.state_bytes() + lfr_.state_bytes() + cap(feats_cache_) + cap(inv_timescale_) + cap(dec_caches_) +
         cap(dec_cache_ptrs_) + cap(cif_.hidden) + cap(scaled_) + cap(fbank_out_) + cap(lfr_out_) + cap(chunk_) +
         cap(enc_) + cap(alphas_) + cap(fired_) + cap(ids_);
}

}  // namespace paraserve
