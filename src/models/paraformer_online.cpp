#include "models/paraformer_online.h"

#include <algorithm>

#include "common/error.h"
#include "models/contract.h"
#include "models/model_dir.h"
#include "models/onnx_util.h"

namespace paraserve {

namespace {
// Upper bound on decoder caches, so that one Run's tensors fit a fixed array.
constexpr int kMaxCaches = 64;
}  // namespace

OnlineParaformerModel::~OnlineParaformerModel() = default;

std::shared_ptr<const OnlineParaformerModel> OnlineParaformerModel::load(const std::string& dir,
                                                                         const std::string& quant_flag,
                                                                         OrtRuntime& runtime) {
  const std::string enc_path = resolve_onnx(dir, "model", quant_flag);
  const std::string dec_path = resolve_onnx(dir, "decoder", quant_flag);
  const std::string mvn = require_file(dir, "am.mvn", "ASR CMVN");
  const std::string yaml = require_file(dir, "config.yaml", "ASR config");
  const std::string tokens = require_file(dir, "tokens.json", "vocabulary");

  std::shared_ptr<OnlineParaformerModel> m(new OnlineParaformerModel());
  m->runtime_ = &runtime;
  m->config_ = load_online_asr_config(yaml);
  const auto& fe = m->config_.frontend;
  // FunASR fixes the feature dim at 560 whatever config.yaml says (§3.3.4).
  if (fe.fbank.n_mels * fe.lfr_m != kFeatDim)
    throw Error(yaml + ": frontend_conf.n_mels x lfr_m is " + std::to_string(fe.fbank.n_mels * fe.lfr_m) +
                ", expected 560 (80 x 7)");
  if (m->config_.fsmn_layers > kMaxCaches)
    throw Error(yaml + ": decoder_conf.num_blocks is " + std::to_string(m->config_.fsmn_layers) + ", expected <= " +
                std::to_string(kMaxCaches));
  m->cmvn_ = Cmvn::load(mvn);
  m->cmvn_.check_dim(kFeatDim, mvn);
  m->vocab_ = Vocab::load_json(tokens);

  const bool quant = quantize_selected(quant_flag);
  auto enc = detail::open_model(runtime, enc_path, quant);
  enc.check(online_encoder_contract(m->config_));
  auto dec = detail::open_model(runtime, dec_path, quant);
  dec.check(online_decoder_contract(m->config_, m->vocab_.size()));

  m->encoder_ = std::move(enc.session);
  m->decoder_ = std::move(dec.session);
  m->encoder_info_ = std::move(enc.info);
  m->decoder_info_ = std::move(dec.info);
  detail::set_names(m->encoder_info_.io.inputs, m->enc_in_, m->enc_in_ptrs_);
  // Requested outputs: enc and alphas (enc_len is a pass-through of speech_lengths).
  auto enc_outs = m->encoder_info_.io.outputs;
  enc_outs.erase(enc_outs.begin() + 1);
  detail::set_names(enc_outs, m->enc_out_, m->enc_out_ptrs_);
  detail::set_names(m->decoder_info_.io.inputs, m->dec_in_, m->dec_in_ptrs_);
  // Requested outputs: logits + out caches (sample_ids is never used).
  auto dec_outs = m->decoder_info_.io.outputs;
  dec_outs.erase(dec_outs.begin() + 1);
  detail::set_names(dec_outs, m->dec_out_, m->dec_out_ptrs_);
  return m;
}

void OnlineParaformerModel::encode(const float* feats, int T, std::vector<float>& enc,
                                   std::vector<float>& alphas) const {
  if (T < 1) throw Error(encoder_info_.path + ": encode with " + std::to_string(T) + " frames, expected >= 1");
  const int D = config_.encoder_size;
  enc.resize(static_cast<std::size_t>(T) * D);
  alphas.resize(static_cast<std::size_t>(T));
  const int32_t len = T;
  const int64_t feat_shape[3] = {1, T, kFeatDim};
  const int64_t len_shape[1] = {1};
  const int64_t enc_shape[3] = {1, T, D};
  const int64_t alpha_shape[2] = {1, T};
  auto in = detail::empty_values<2>();
  in[0] = detail::wrap(*runtime_, feats, static_cast<std::size_t>(T) * kFeatDim, feat_shape, 3);
  in[1] = detail::wrap(*runtime_, &len, 1, len_shape, 1);
  auto out = detail::empty_values<2>();
  out[0] = detail::wrap<float>(*runtime_, enc.data(), enc.size(), enc_shape, 3);
  out[1] = detail::wrap<float>(*runtime_, alphas.data(), alphas.size(), alpha_shape, 2);
  try {
    encoder_->Run(Ort::RunOptions{nullptr}, enc_in_ptrs_.data(), in.data(), in.size(), enc_out_ptrs_.data(),
                  out.data(), out.size());
  } catch (const Ort::Exception& e) {
    detail::rethrow_run_error(encoder_info_.path, e);
  }
}

void OnlineParaformerModel::decode(const float* enc, int T, const float* embeds, int N,
                                   std::span<float* const> caches, std::vector<float>& logits) const {
  const int L = config_.fsmn_layers;
  if (T < 1 || N < 1)
    throw Error(decoder_info_.path + ": decode with T=" + std::to_string(T) + ", N=" + std::to_string(N) +
                ", expected both >= 1");
  if (static_cast<int>(caches.size()) != L)
    throw Error(decoder_info_.path + ": decode given " + std::to_string(caches.size()) + " caches, expected " +
                std::to_string(L) + " (decoder_conf.num_blocks)");
  const int D = config_.encoder_size;
  const int V = vocab_size();
  const std::size_t cf = static_cast<std::size_t>(cache_floats());
  const std::size_t n_logits = static_cast<std::size_t>(N) * V;
  // Output caches go to the tail of `logits` (scratch, capacity kept by the caller), then
  // are copied over the input caches: ORT must not write an output over a live input.
  logits.resize(n_logits + L * cf);
  float* tail = logits.data() + n_logits;

  const int32_t enc_len = T, emb_len = N;
  const int64_t enc_shape[3] = {1, T, D};
  const int64_t emb_shape[3] = {1, N, D};
  const int64_t len_shape[1] = {1};
  const int64_t cache_shape[3] = {1, D, config_.fsmn_lorder};
  const int64_t logit_shape[3] = {1, N, V};
  auto in = detail::empty_values<4 + kMaxCaches>();
  in[0] = detail::wrap(*runtime_, enc, static_cast<std::size_t>(T) * D, enc_shape, 3);
  in[1] = detail::wrap(*runtime_, &enc_len, 1, len_shape, 1);
  in[2] = detail::wrap(*runtime_, embeds, static_cast<std::size_t>(N) * D, emb_shape, 3);
  in[3] = detail::wrap(*runtime_, &emb_len, 1, len_shape, 1);
  auto out = detail::empty_values<1 + kMaxCaches>();
  out[0] = detail::wrap<float>(*runtime_, logits.data(), n_logits, logit_shape, 3);
  for (int i = 0; i < L; ++i) {
    in[4 + i] = detail::wrap<float>(*runtime_, caches[i], cf, cache_shape, 3);
    out[1 + i] = detail::wrap<float>(*runtime_, tail + i * cf, cf, cache_shape, 3);
  }
  try {
    decoder_->Run(Ort::RunOptions{nullptr}, dec_in_ptrs_.data(), in.data(), 4 + L, dec_out_ptrs_.data(), out.data(),
                  1 + L);
  } catch (const Ort::Exception& e) {
    detail::rethrow_run_error(decoder_info_.path, e);
  }
  for (int i = 0; i < L; ++i) std::copy_n(tail + i * cf, cf, caches[i]);
  logits.resize(n_logits);
}

}  // namespace paraserve
