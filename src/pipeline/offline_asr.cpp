#include "pipeline/offline_asr.h"

#include <algorithm>
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

OfflineAsr::OfflineAsr(const Engine& engine, const OfflineAsrOptions& options)
    : engine_(engine),
      svs_language_(sensevoice_language_id(options.svs_lang)),
      svs_textnorm_(sensevoice_textnorm_id(options.svs_itn)) {
  engine.require_offline("the offline pass");
}

namespace {

// Search state kept between segments at most (a long segment's buffers are released).
constexpr std::size_t kMaxIdleSearchBytes = std::size_t{8} << 20;

}  // namespace

void OfflineAsr::recognize(std::span<const float> samples, int64_t segment_start_ms, OfflineScratch& scratch,
                           OfflineAsrResult& out, const lm::BiasLm* bias) const {
  out.text.clear();
  out.stamps.clear();
  out.stamp_seconds.clear();
  out.has_timestamps = engine_.offline_has_timestamps();
  out.punctuate = !engine_.sensevoice;
  const OfflineFrontEnd& fe = engine_.offline_front;
  scratch.scaled.resize(samples.size());
  for (std::size_t i = 0; i < samples.size(); ++i) scratch.scaled[i] = samples[i] * 32768.0f;
  scratch.fbank.clear();
  fe.fbank->compute(scratch.scaled, scratch.fbank);
  const int T = static_cast<int>(scratch.fbank.size() / static_cast<std::size_t>(fe.fbank->dim()));
  if (T == 0) return;  // FunASR: no frames -> empty result
  scratch.lfr.clear();
  lfr_offline(scratch.fbank.data(), T, fe.fbank->dim(), fe.config.lfr_m, fe.config.lfr_n, scratch.lfr);
  const int dim = fe.config.lfr_m * fe.fbank->dim();
  const int T_lfr = static_cast<int>(scratch.lfr.size() / static_cast<std::size_t>(dim));
  fe.cmvn.apply(scratch.lfr.data(), T_lfr, dim);
  if (engine_.sensevoice) {
    engine_.sensevoice->run(scratch.lfr.data(), T_lfr, svs_language_, svs_textnorm_, scratch.output);
    // FunASR's CTCSearch walks the input frame count (speech_lengths), not the T + 4 rows of
    // ctc_logits: the last 4 rows are never decoded.
    sensevoice_ctc_ids(scratch.output.logits.data(), std::min(T_lfr, scratch.output.num_rows), scratch.output.vocab,
                       scratch.ids);
    sensevoice_text(scratch.ids, fe.vocab->tokens(), out.text);
    return;
  }
  engine_.offline->run(scratch.lfr.data(), T_lfr, scratch.output);
  if (engine_.lm) {
    decode_with_lm(segment_start_ms, scratch, out, bias);
    return;
  }
  // The logits' row count is the token count (token_num's dtype is unreliable, §3.4.1).
  greedy_ids(scratch.output.logits.data(), scratch.output.num_rows, scratch.output.vocab, scratch.ids);
  const auto& tokens = fe.vocab->tokens();
  if (out.has_timestamps) {
    TimestampedText tt = timestamped_text(scratch.output.us_alphas, scratch.output.us_cif_peak, scratch.ids, tokens, segment_start_ms);
    out.text = std::move(tt.text);
    out.stamps = std::move(tt.stamps);
    out.stamp_seconds = std::move(tt.seconds);
  } else {
    append_ids_to_text(scratch.ids, tokens, out.text);
  }
}

// FunASR's WfstDecoder (wfst-decoder.cpp): every logits row but the last (the tail </s>) is
// one search frame; the best path's words become text with Vector2StringV2 over the LM word
// list, or, for the timestamp model, are split into characters / English words and stamped.
void OfflineAsr::decode_with_lm(int64_t segment_start_ms, OfflineScratch& scratch, OfflineAsrResult& out,
                                const lm::BiasLm* bias) const {
  const OfflineOutput& o = scratch.output;
  const lm::LmModel& lm = *engine_.lm;
  scratch.ids.clear();
  if (o.num_rows > 1)
    scratch.search.decode(*lm.graph, o.logits.data(), o.num_rows - 1, o.vocab, engine_.lm_search, bias, scratch.ids);
  scratch.search.shrink_to(kMaxIdleSearchBytes);
  if (scratch.ids.empty()) return;
  if (!out.has_timestamps) {
    append_ids_to_text(scratch.ids, lm.words, out.text);
    return;
  }
  scratch.pieces.clear();
  for (int id : scratch.ids) {
    if (id < 0 || static_cast<std::size_t>(id) >= lm.words.size()) continue;
    for (auto& p : lm::split_chi_eng(lm.words[static_cast<std::size_t>(id)])) scratch.pieces.push_back(std::move(p));
  }
  scratch.ids.resize(scratch.pieces.size());
  for (std::size_t i = 0; i < scratch.ids.size(); ++i) scratch.ids[i] = static_cast<int>(i);
  TimestampedText tt = timestamped_text(o.us_alphas, o.us_cif_peak, scratch.ids, scratch.pieces, segment_start_ms);
  out.text = std::move(tt.text);
  out.stamps = std::move(tt.stamps);
  out.stamp_seconds = std::move(tt.seconds);
}

std::size_t OfflineScratch::bytes() const {
  auto cap = [](const auto& v) { return v.capacity() * sizeof(v[0]); };
  return cap(segment) + cap(scaled) + cap(fbank) + cap(lfr) + cap(output.logits) + cap(output.us_alphas) +
         cap(output.us_cif_peak) + cap(ids) + search.bytes() + cap(pieces);
}

}  // namespace paraserve
