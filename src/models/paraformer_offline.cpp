#include "models/paraformer_offline.h"

#include <algorithm>

#include "common/error.h"
#include "models/contract.h"
#include "models/model_dir.h"
#include "models/onnx_util.h"

namespace paraserve {

OfflineParaformerModel::~OfflineParaformerModel() = default;

std::shared_ptr<const OfflineParaformerModel> OfflineParaformerModel::load(const std::string& dir,
                                                                          const std::string& quant_flag,
                                                                          OrtRuntime& runtime) {
  const std::string path = resolve_onnx(dir, "model", quant_flag);
  auto opened = detail::open_model(runtime, path, quantize_selected(quant_flag));
  const std::string kind = classify_offline(opened.info.io);
  if (kind == "offline-contextual" || kind == "offline-seaco")
    throw Error(path + ": " + kind + " (hotword) Paraformer exports are not supported yet; use a plain or "
                "timestamp offline model");
  const bool ts = opened.info.io.outputs.size() == 4;  // FunASR's rule (§3.4.2)
  opened.check(offline_contract(ts));

  std::shared_ptr<OfflineParaformerModel> m(new OfflineParaformerModel());
  m->runtime_ = &runtime;
  m->has_timestamps_ = ts;
  m->session_ = std::move(opened.session);
  m->info_ = std::move(opened.info);
  detail::set_names(m->info_.io.inputs, m->in_names_, m->in_ptrs_);
  detail::set_names(m->info_.io.outputs, m->out_names_, m->out_ptrs_);
  return m;
}

namespace {

// Copies a float tensor of shape [1, n] (or any shape) into `dst`.
void copy_floats(const Ort::Value& v, std::vector<float>& dst) {
  const auto info = v.GetTensorTypeAndShapeInfo();
  const std::size_t n = info.GetElementCount();
  const float* p = v.GetTensorData<float>();
  dst.assign(p, p + n);
}

}  // namespace

void OfflineParaformerModel::run(const float* feats, int T, OfflineOutput& out) const {
  if (T < 1) throw Error(info_.path + ": run with " + std::to_string(T) + " frames, expected >= 1");
  const int32_t len = T;
  const int64_t feat_shape[3] = {1, T, kFeatDim};
  const int64_t len_shape[1] = {1};
  auto in = detail::empty_values<2>();
  in[0] = detail::wrap(*runtime_, feats, static_cast<std::size_t>(T) * kFeatDim, feat_shape, 3);
  in[1] = detail::wrap(*runtime_, &len, 1, len_shape, 1);
  // The number of output rows is data-dependent, so ORT allocates the outputs here.
  std::vector<Ort::Value> res;
  try {
    res = session_->Run(Ort::RunOptions{nullptr}, in_ptrs_.data(), in.data(), in.size(), out_ptrs_.data(),
                        out_ptrs_.size());
  } catch (const Ort::Exception& e) {
    detail::rethrow_run_error(info_.path, e);
  }

  const auto logit_info = res[0].GetTensorTypeAndShapeInfo();
  const auto shape = logit_info.GetShape();
  if (shape.size() != 3 || shape[0] != 1)
    throw Error(info_.path + ": logits output has shape " + shape_string(shape) + ", expected [1,N,V]");
  out.num_rows = static_cast<int>(shape[1]);
  out.vocab = static_cast<int>(shape[2]);
  copy_floats(res[0], out.logits);

  // token_num is int32 in the exports but some runtimes/exports use int64: read the real type.
  const auto tn_info = res[1].GetTensorTypeAndShapeInfo();
  if (tn_info.GetElementCount() < 1) throw Error(info_.path + ": token_num output is empty");
  switch (tn_info.GetElementType()) {
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32: out.token_num = res[1].GetTensorData<int32_t>()[0]; break;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64:
      out.token_num = static_cast<int>(res[1].GetTensorData<int64_t>()[0]);
      break;
    default:
      throw Error(info_.path + ": token_num is " + dtype_name(tn_info.GetElementType()) + ", expected int32 or int64");
  }

  if (has_timestamps_) {
    copy_floats(res[2], out.us_alphas);
    copy_floats(res[3], out.us_cif_peak);
  } else {
    out.us_alphas.clear();
    out.us_cif_peak.clear();
  }
}

}  // namespace paraserve
