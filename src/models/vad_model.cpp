#include "models/vad_model.h"

#include <algorithm>

#include "common/error.h"
#include "models/model_dir.h"
#include "models/onnx_util.h"

namespace paraserve {

VadModel::~VadModel() = default;

std::shared_ptr<const VadModel> VadModel::load(const std::string& dir, const std::string& quant_flag,
                                               OrtRuntime& runtime) {
  const std::string onnx = resolve_onnx(dir, "model", quant_flag);
  const std::string mvn = require_file(dir, "am.mvn", "VAD CMVN");
  const std::string yaml = require_file(dir, "config.yaml", "VAD config");

  std::shared_ptr<VadModel> m(new VadModel());
  m->runtime_ = &runtime;
  m->config_ = load_vad_config(yaml);
  if (m->config_.fbank.n_mels * m->config_.lfr_m != kFeatDim)
    throw Error(yaml + ": frontend_conf.n_mels is " + std::to_string(m->config_.fbank.n_mels) +
                ", expected 80 (the FSMN-VAD input is LFR 5 x 80 = 400)");
  m->cmvn_ = Cmvn::load(mvn);
  m->cmvn_.check_dim(kFeatDim, mvn);

  auto opened = detail::open_model(runtime, onnx, quantize_selected(quant_flag));
  opened.check(vad_contract());
  m->session_ = std::move(opened.session);
  m->info_ = std::move(opened.info);
  detail::set_names(m->info_.io.inputs, m->in_names_, m->in_ptrs_);
  detail::set_names(m->info_.io.outputs, m->out_names_, m->out_ptrs_);
  return m;
}

void VadModel::run(const float* feats, int T, std::array<float*, 4> caches, bool update_caches,
                   std::vector<float>& probs) const {
  if (T < 1) throw Error(info_.path + ": VAD run with " + std::to_string(T) + " frames, expected >= 1");
  const std::size_t n_probs = static_cast<std::size_t>(T) * kNumPdfs;
  // The output caches land in the tail of `probs` (scratch) because ORT must not write an
  // output over an input it may still read; copied back below.
  probs.resize(n_probs + (update_caches ? 4 * static_cast<std::size_t>(kCacheFloats) : 0));

  const int64_t feat_shape[3] = {1, T, kFeatDim};
  const int64_t cache_shape[4] = {1, 128, 19, 1};
  const int64_t prob_shape[3] = {1, T, kNumPdfs};
  auto in = detail::empty_values<5>();
  in[0] = detail::wrap(*runtime_, feats, static_cast<std::size_t>(T) * kFeatDim, feat_shape, 3);
  for (int i = 0; i < 4; ++i) in[1 + i] = detail::wrap<float>(*runtime_, caches[i], kCacheFloats, cache_shape, 4);
  auto out = detail::empty_values<5>();
  float* tail = probs.data() + n_probs;
  out[0] = detail::wrap<float>(*runtime_, probs.data(), n_probs, prob_shape, 3);
  if (update_caches)
    for (int i = 0; i < 4; ++i) out[1 + i] = detail::wrap<float>(*runtime_, tail + i * kCacheFloats, kCacheFloats, cache_shape, 4);
  const std::size_t n_out = update_caches ? 5 : 1;
  try {
    session_->Run(Ort::RunOptions{nullptr}, in_ptrs_.data(), in.data(), in.size(), out_ptrs_.data(), out.data(),
                  n_out);
  } catch (const Ort::Exception& e) {
    detail::rethrow_run_error(info_.path, e);
  }
  if (update_caches)
    for (int i = 0; i < 4; ++i) std::copy_n(tail + i * kCacheFloats, kCacheFloats, caches[i]);
  probs.resize(n_probs);
}

}  // namespace paraserve
