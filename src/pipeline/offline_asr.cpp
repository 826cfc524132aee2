#include "pipeline/offline_asr.h"

#include <cstdio>
#include <cstdlib>

#include "decode/text.h"
#include "decode/timestamps.h"
#include "frontend/lfr.h"
#include "pipeline/engine_impl.h"

namespace paraserve {

int64_t offline_stamp_ms(float sec, int64_t segment_start_sample) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%f", static_cast<double>(sec));  // std::to_string(float)
  const float parsed = std::strtof(buf, nullptr);                   // std::stof
  const float start = static_cast<float>(static_cast<int>(segment_start_sample)) / static_cast<float>(16000);
  const float t = parsed + start;
  return static_cast<int64_t>(static_cast<int>(1000.0f * t));
}

OfflineAsr::OfflineAsr(const Engine& engine) : engine_(engine) { engine.require_offline("the offline pass"); }

void OfflineAsr::recognize(std::span<const float> samples, int64_t segment_start_ms, OfflineAsrResult& out) {
  out.text.clear();
  out.stamps.clear();
  out.stamp_seconds.clear();
  out.has_timestamps = engine_.offline->has_timestamps();
  const OfflineFrontEnd& fe = engine_.offline_front;
  scaled_.resize(samples.size());
  for (std::size_t i = 0; i < samples.size(); ++i) scaled_[i] = samples[i] * 32768.0f;
  fbank_.clear();
  fe.fbank->compute(scaled_, fbank_);
  const int T = static_cast<int>(fbank_.size() / static_cast<std::size_t>(fe.fbank->dim()));
  if (T == 0) return;  // FunASR: no frames -> empty result
  lfr_.clear();
  lfr_offline(fbank_.data(), T, fe.fbank->dim(), fe.config.lfr_m, fe.config.lfr_n, lfr_);
  const int dim = fe.config.lfr_m * fe.fbank->dim();
  const int T_lfr = static_cast<int>(lfr_.size() / static_cast<std::size_t>(dim));
  fe.cmvn.apply(lfr_.data(), T_lfr, dim);
  engine_.offline->run(lfr_.data(), T_lfr, output_);
  // The logits' row count is the token count (token_num's dtype is unreliable, §3.4.1).
  greedy_ids(output_.logits.data(), output_.num_rows, output_.vocab, ids_);
  const auto& tokens = fe.vocab->tokens();
  if (out.has_timestamps) {
    TimestampedText tt = timestamped_text(output_.us_alphas, output_.us_cif_peak, ids_, tokens, segment_start_ms);
    out.text = std::move(tt.text);
    out.stamps = std::move(tt.stamps);
    out.stamp_seconds = std::move(tt.seconds);
  } else {
    append_ids_to_text(ids_, tokens, out.text);
  }
}

void OfflineAsr::release() {
  std::vector<float>().swap(scaled_);
  std::vector<float>().swap(fbank_);
  std::vector<float>().swap(lfr_);
  output_ = OfflineOutput{};
  std::vector<int>().swap(ids_);
}

std::size_t OfflineAsr::state_bytes() const {
  auto cap = [](const auto& v) { return v.capacity() * sizeof(v[0]); };
  return cap(scaled_) + cap(fbank_) + cap(lfr_) + cap(output_.logits) + cap(output_.us_alphas) +
         cap(output_.us_cif_peak) + cap(ids_);
}

}  // namespace paraserve
