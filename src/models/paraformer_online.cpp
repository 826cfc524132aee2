#include "models/paraformer_online.h"

#include <algorithm>
#include <array>

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
  // Batched calls need a dynamic (symbolic) batch dim on every input of both graphs.
  m->batchable_ = true;
  for (const auto* io : {&m->encoder_info_.io.inputs, &m->decoder_info_.io.inputs})
    for (const auto& t : *io)
      if (t.shape.empty() || t.shape[0] >= 0) m->batchable_ = false;
  return m;
}

void OnlineParaformerModel::run_encoder(const float* feats, const int32_t* lens, int B, int T, float* enc,
                                        float* alphas) const {
  const int D = config_.encoder_size;
  const std::size_t bt = static_cast<std::size_t>(B) * T;
  const int64_t feat_shape[3] = {B, T, kFeatDim};
  const int64_t len_shape[1] = {B};
  const int64_t enc_shape[3] = {B, T, D};
  const int64_t alpha_shape[2] = {B, T};
  auto in = detail::empty_values<2>();
  in[0] = detail::wrap(*runtime_, feats, bt * kFeatDim, feat_shape, 3);
  in[1] = detail::wrap(*runtime_, lens, static_cast<std::size_t>(B), len_shape, 1);
  auto out = detail::empty_values<2>();
  out[0] = detail::wrap<float>(*runtime_, enc, bt * D, enc_shape, 3);
  out[1] = detail::wrap<float>(*runtime_, alphas, bt, alpha_shape, 2);
  try {
    encoder_->Run(Ort::RunOptions{nullptr}, enc_in_ptrs_.data(), in.data(), in.size(), enc_out_ptrs_.data(),
                  out.data(), out.size());
  } catch (const Ort::Exception& e) {
    detail::rethrow_run_error(encoder_info_.path, e);
  }
}

void OnlineParaformerModel::run_decoder(const float* enc, const int32_t* enc_lens, int B, int T,
                                        const float* embeds, const int32_t* emb_lens, int N,
                                        const float* const* cache_in, float* const* cache_out,
                                        float* logits) const {
  const int L = config_.fsmn_layers;
  const int D = config_.encoder_size;
  const int V = vocab_size();
  const std::size_t cf = static_cast<std::size_t>(B) * cache_floats();
  const int64_t enc_shape[3] = {B, T, D};
  const int64_t emb_shape[3] = {B, N, D};
  const int64_t len_shape[1] = {B};
  const int64_t cache_shape[3] = {B, D, config_.fsmn_lorder};
  const int64_t logit_shape[3] = {B, N, V};
  auto in = detail::empty_values<4 + kMaxCaches>();
  in[0] = detail::wrap(*runtime_, enc, static_cast<std::size_t>(B) * T * D, enc_shape, 3);
  in[1] = detail::wrap(*runtime_, enc_lens, static_cast<std::size_t>(B), len_shape, 1);
  in[2] = detail::wrap(*runtime_, embeds, static_cast<std::size_t>(B) * N * D, emb_shape, 3);
  in[3] = detail::wrap(*runtime_, emb_lens, static_cast<std::size_t>(B), len_shape, 1);
  auto out = detail::empty_values<1 + kMaxCaches>();
  out[0] = detail::wrap<float>(*runtime_, logits, static_cast<std::size_t>(B) * N * V, logit_shape, 3);
  for (int i = 0; i < L; ++i) {
    in[4 + i] = detail::wrap<float>(*runtime_, cache_in[i], cf, cache_shape, 3);
    out[1 + i] = detail::wrap<float>(*runtime_, cache_out[i], cf, cache_shape, 3);
  }
  try {
    decoder_->Run(Ort::RunOptions{nullptr}, dec_in_ptrs_.data(), in.data(), 4 + L, dec_out_ptrs_.data(), out.data(),
                  1 + L);
  } catch (const Ort::Exception& e) {
    detail::rethrow_run_error(decoder_info_.path, e);
  }
}

void OnlineParaformerModel::encode(const float* feats, int T, std::vector<float>& enc,
                                   std::vector<float>& alphas) const {
  if (T < 1) throw Error(encoder_info_.path + ": encode with " + std::to_string(T) + " frames, expected >= 1");
  enc.resize(static_cast<std::size_t>(T) * config_.encoder_size);
  alphas.resize(static_cast<std::size_t>(T));
  const int32_t len = T;
  run_encoder(feats, &len, 1, T, enc.data(), alphas.data());
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
  const std::size_t cf = static_cast<std::size_t>(cache_floats());
  const std::size_t n_logits = static_cast<std::size_t>(N) * vocab_size();
  // Output caches go to the tail of `logits` (scratch, capacity kept by the caller), then
  // are copied over the input caches: ORT must not write an output over a live input.
  logits.resize(n_logits + L * cf);
  float* tail = logits.data() + n_logits;
  std::array<float*, kMaxCaches> out_caches{};
  for (int i = 0; i < L; ++i) out_caches[i] = tail + i * cf;
  const int32_t enc_len = T, emb_len = N;
  run_decoder(enc, &enc_len, 1, T, embeds, &emb_len, N, caches.data(), out_caches.data(), logits.data());
  for (int i = 0; i < L; ++i) std::copy_n(tail + i * cf, cf, caches[i]);
  logits.resize(n_logits);
}

// ---------------------------------------------------------------------------
// Batched calls
// ---------------------------------------------------------------------------

OnlineParaformerModel::BatchScratch::BatchScratch(const OnlineParaformerModel& m, const BatchLimits& lim)
    : limits_(lim) {
  if (lim.max_batch < 1 || lim.max_batch > kMaxBatch || lim.max_frames < 1 || lim.max_tokens < 1)
    throw Error("online batch limits: max_batch " + std::to_string(lim.max_batch) + " (1.." +
                std::to_string(kMaxBatch) + "), max_frames " + std::to_string(lim.max_frames) + ", max_tokens " +
                std::to_string(lim.max_tokens) + " (>= 1)");
  const std::size_t B = static_cast<std::size_t>(lim.max_batch);
  const std::size_t rows = B * static_cast<std::size_t>(lim.max_frames);
  const std::size_t toks = B * static_cast<std::size_t>(lim.max_tokens);
  const std::size_t D = static_cast<std::size_t>(m.encoder_dim());
  feats_.resize(rows * kFeatDim);
  enc_.resize(rows * D);  // encoder output, and the decoder's stacked enc input
  alphas_.resize(rows);
  embeds_.resize(toks * D);
  logits_.resize(toks * static_cast<std::size_t>(m.vocab_size()));
  cache_in_.resize(static_cast<std::size_t>(m.num_caches()) * B * static_cast<std::size_t>(m.cache_floats()));
  cache_out_.resize(cache_in_.size());
  len_a_.resize(B);
  len_b_.resize(B);
  order_.resize(B);
}

std::size_t OnlineParaformerModel::BatchScratch::bytes() const {
  return (feats_.size() + enc_.size() + alphas_.size() + embeds_.size() + logits_.size() + cache_in_.size() +
          cache_out_.size()) * sizeof(float) +
         (len_a_.size() + len_b_.size()) * sizeof(int32_t) + order_.size() * sizeof(int);
}

namespace {

// order[0..n) = 0..n-1 sorted by key(i), ties in request order. Insertion sort: n is at
// most kMaxBatch, and std::stable_sort may allocate.
template <class Key>
void sort_by(int* order, int n, Key key) {
  for (int i = 0; i < n; ++i) order[i] = i;
  for (int i = 1; i < n; ++i) {
    const int v = order[i];
    int j = i;
    for (; j > 0 && key(order[j - 1]) > key(v); --j) order[j] = order[j - 1];
    order[j] = v;
  }
}

}  // namespace

void OnlineParaformerModel::check_batch_size(const std::string& path, const char* call, int n,
                                             const BatchLimits& lim) const {
  if (n > lim.max_batch)
    throw Error(path + ": " + call + " with " + std::to_string(n) + " requests, limit " + std::to_string(lim.max_batch));
  if (n > 1 && !batchable_)
    throw Error(path + ": the export has a fixed batch dimension; batch of " + std::to_string(n) + " refused");
}

void OnlineParaformerModel::encode_batch(std::span<const EncodeRequest> reqs, BatchScratch& s) const {
  const int n = static_cast<int>(reqs.size());
  const BatchLimits& lim = s.limits_;
  const std::string& path = encoder_info_.path;
  check_batch_size(path, "encode_batch", n, lim);
  for (int i = 0; i < n; ++i) {
    const auto& r = reqs[static_cast<std::size_t>(i)];
    if (r.T < 1 || r.T > lim.max_frames || !r.feats || !r.enc || !r.alphas)
      throw Error(path + ": encode_batch request " + std::to_string(i) + " has T=" + std::to_string(r.T) +
                  (r.feats && r.enc && r.alphas ? "" : " or a null buffer") + ", expected 1.." +
                  std::to_string(lim.max_frames) + " frames");
  }
  int* order = s.order_.data();
  sort_by(order, n, [&](int i) { return reqs[static_cast<std::size_t>(i)].T; });
  const std::size_t D = static_cast<std::size_t>(config_.encoder_size);
  for (int g0 = 0; g0 < n;) {
    const int T = reqs[static_cast<std::size_t>(order[g0])].T;
    int g1 = g0 + 1;
    while (g1 < n && reqs[static_cast<std::size_t>(order[g1])].T == T) ++g1;
    const int B = g1 - g0;
    if (B == 1) {  // nothing to stack: run on the request's own buffers
      const auto& r = reqs[static_cast<std::size_t>(order[g0])];
      const int32_t len = T;
      run_encoder(r.feats, &len, 1, T, r.enc, r.alphas);
    } else {
      const std::size_t fr = static_cast<std::size_t>(T) * kFeatDim;
      for (int k = 0; k < B; ++k) {
        std::copy_n(reqs[static_cast<std::size_t>(order[g0 + k])].feats, fr, s.feats_.data() + k * fr);
        s.len_a_[static_cast<std::size_t>(k)] = T;
      }
      run_encoder(s.feats_.data(), s.len_a_.data(), B, T, s.enc_.data(), s.alphas_.data());
      const std::size_t er = static_cast<std::size_t>(T) * D;
      for (int k = 0; k < B; ++k) {
        const auto& r = reqs[static_cast<std::size_t>(order[g0 + k])];
        std::copy_n(s.enc_.data() + k * er, er, r.enc);
        std::copy_n(s.alphas_.data() + static_cast<std::size_t>(k) * T, T, r.alphas);
      }
    }
    g0 = g1;
  }
}

void OnlineParaformerModel::decode_batch(std::span<const DecodeRequest> reqs, BatchScratch& s) const {
  const int n = static_cast<int>(reqs.size());
  const BatchLimits& lim = s.limits_;
  const std::string& path = decoder_info_.path;
  check_batch_size(path, "decode_batch", n, lim);
  for (int i = 0; i < n; ++i) {
    const auto& r = reqs[static_cast<std::size_t>(i)];
    if (r.T < 1 || r.T > lim.max_frames || r.N < 1 || r.N > lim.max_tokens || !r.enc || !r.embeds || !r.caches ||
        !r.logits)
      throw Error(path + ": decode_batch request " + std::to_string(i) + " has T=" + std::to_string(r.T) +
                  ", N=" + std::to_string(r.N) +
                  (r.enc && r.embeds && r.caches && r.logits ? "" : " or a null buffer") + ", expected T 1.." +
                  std::to_string(lim.max_frames) + ", N 1.." + std::to_string(lim.max_tokens));
  }
  const int L = config_.fsmn_layers;
  const std::size_t D = static_cast<std::size_t>(config_.encoder_size);
  const std::size_t V = static_cast<std::size_t>(vocab_size());
  const std::size_t cf = static_cast<std::size_t>(cache_floats());
  const std::size_t layer_stride = static_cast<std::size_t>(lim.max_batch) * cf;  // one layer's [B,D,lorder]
  std::array<const float*, kMaxCaches> cin{};
  std::array<float*, kMaxCaches> cout{};
  int* order = s.order_.data();
  sort_by(order, n, [&](int i) { return reqs[static_cast<std::size_t>(i)].N; });
  for (int g0 = 0; g0 < n;) {
    const int N = reqs[static_cast<std::size_t>(order[g0])].N;
    int g1 = g0 + 1, T = reqs[static_cast<std::size_t>(order[g0])].T;
    for (; g1 < n && reqs[static_cast<std::size_t>(order[g1])].N == N; ++g1)
      T = std::max(T, reqs[static_cast<std::size_t>(order[g1])].T);
    const int B = g1 - g0;
    for (int i = 0; i < L; ++i) cout[static_cast<std::size_t>(i)] = s.cache_out_.data() + i * layer_stride;
    if (B == 1) {  // no stacking: the request's own inputs, caches and logits
      const auto& r = reqs[static_cast<std::size_t>(order[g0])];
      for (int i = 0; i < L; ++i) cin[static_cast<std::size_t>(i)] = r.caches[i];
      const int32_t enc_len = r.T, emb_len = N;
      run_decoder(r.enc, &enc_len, 1, r.T, r.embeds, &emb_len, N, cin.data(), cout.data(), r.logits);
      for (int i = 0; i < L; ++i) std::copy_n(cout[static_cast<std::size_t>(i)], cf, r.caches[i]);
    } else {
      const std::size_t er = static_cast<std::size_t>(T) * D, nr = static_cast<std::size_t>(N) * D;
      for (int k = 0; k < B; ++k) {
        const auto& r = reqs[static_cast<std::size_t>(order[g0 + k])];
        const std::size_t own = static_cast<std::size_t>(r.T) * D;
        float* e = s.enc_.data() + k * er;
        std::copy_n(r.enc, own, e);
        std::fill(e + own, e + er, 0.0f);  // padding rows (masked by enc_len)
        std::copy_n(r.embeds, nr, s.embeds_.data() + k * nr);
        s.len_a_[static_cast<std::size_t>(k)] = r.T;
        s.len_b_[static_cast<std::size_t>(k)] = N;
        for (int i = 0; i < L; ++i) std::copy_n(r.caches[i], cf, s.cache_in_.data() + i * layer_stride + k * cf);
      }
      for (int i = 0; i < L; ++i) cin[static_cast<std::size_t>(i)] = s.cache_in_.data() + i * layer_stride;
      run_decoder(s.enc_.data(), s.len_a_.data(), B, T, s.embeds_.data(), s.len_b_.data(), N, cin.data(), cout.data(),
                  s.logits_.data());
      const std::size_t lr = static_cast<std::size_t>(N) * V;
      for (int k = 0; k < B; ++k) {
        const auto& r = reqs[static_cast<std::size_t>(order[g0 + k])];
        std::copy_n(s.logits_.data() + k * lr, lr, r.logits);
        for (int i = 0; i < L; ++i) std::copy_n(cout[static_cast<std::size_t>(i)] + k * cf, cf, r.caches[i]);
      }
    }
    g0 = g1;
  }
}

}  // namespace paraserve
