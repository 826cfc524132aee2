#include "models/punc_model.h"

#include "common/error.h"
#include "models/contract.h"
#include "models/model_dir.h"
#include "models/onnx_util.h"

namespace paraserve {

PuncModel::~PuncModel() = default;

std::shared_ptr<const PuncModel> PuncModel::load(const std::string& dir, const std::string& quant_flag,
                                                 OrtRuntime& runtime) {
  const std::string path = resolve_onnx(dir, "model", quant_flag);
  const std::string yaml = require_file(dir, "config.yaml", "punctuation config");
  const std::string tokens = require_file(dir, "tokens.json", "punctuation vocabulary");

  std::shared_ptr<PuncModel> m(new PuncModel());
  m->runtime_ = &runtime;
  m->config_ = load_punc_config(yaml);
  m->vocab_ = Vocab::load_json(tokens);

  auto opened = detail::open_model(runtime, path, quantize_selected(quant_flag));
  // FunASR feeds as many inputs as the model has: 4 = vad_realtime export, 2 = offline.
  m->realtime_ = opened.info.io.inputs.size() == 4;
  opened.check(punc_contract(m->realtime_, m->num_classes()));
  m->session_ = std::move(opened.session);
  m->info_ = std::move(opened.info);
  detail::set_names(m->info_.io.inputs, m->in_names_, m->in_ptrs_);
  detail::set_names(m->info_.io.outputs, m->out_names_, m->out_ptrs_);
  return m;
}

void PuncModel::run(const int32_t* ids, int L, const float* mask, std::vector<float>& logits) const {
  if (L < 1) throw Error(info_.path + ": run with " + std::to_string(L) + " tokens, expected >= 1");
  if (realtime_ && mask == nullptr) throw Error(info_.path + ": realtime punctuation model needs an L x L mask");
  const int C = num_classes();
  logits.resize(static_cast<std::size_t>(L) * C);
  const int32_t len = L;
  const int64_t ids_shape[2] = {1, L};
  const int64_t len_shape[1] = {1};
  const int64_t mask_shape[4] = {1, 1, L, L};
  const int64_t out_shape[3] = {1, L, C};
  auto in = detail::empty_values<4>();
  in[0] = detail::wrap(*runtime_, ids, static_cast<std::size_t>(L), ids_shape, 2);
  in[1] = detail::wrap(*runtime_, &len, 1, len_shape, 1);
  if (realtime_) {
    // The same matrix is fed as vad_masks and sub_masks, as FunASR's runtime does (§3.5.1).
    const std::size_t n = static_cast<std::size_t>(L) * L;
    in[2] = detail::wrap(*runtime_, mask, n, mask_shape, 4);
    in[3] = detail::wrap(*runtime_, mask, n, mask_shape, 4);
  }
  auto out = detail::empty_values<1>();
  out[0] = detail::wrap<float>(*runtime_, logits.data(), logits.size(), out_shape, 3);
  try {
    session_->Run(Ort::RunOptions{nullptr}, in_ptrs_.data(), in.data(), realtime_ ? 4 : 2, out_ptrs_.data(),
                  out.data(), 1);
  } catch (const Ort::Exception& e) {
    detail::rethrow_run_error(info_.path, e);
  }
}

}  // namespace paraserve
