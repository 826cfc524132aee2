// Offline Paraformer (funasr-compat.md §3.4): plain (logits, token_num) or timestamp
// variant (+ us_alphas, us_cif_peak). Only model[_quant].onnx is read from its dir: in
// FunASR's 2pass server the front end, CMVN and vocabulary come from the online dir.
// Shared, immutable after load; run() is const and thread-safe.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "models/model_info.h"
#include "models/ort_runtime.h"

namespace paraserve {

struct OfflineOutput {
  std::vector<float> logits;  // num_rows x vocab (log-softmax)
  int num_rows = 0;           // logits.shape[1]
  int vocab = 0;              // logits.shape[2]
  int token_num = 0;          // the token_num output, read with its real dtype (int32 or int64)
  std::vector<float> us_alphas, us_cif_peak;  // timestamp variant only (else empty)
};

class OfflineParaformerModel {
 public:
  // Hotword (contextual / SeACo) exports are recognised and rejected with a clear error.
  static std::shared_ptr<const OfflineParaformerModel> load(const std::string& dir,
                                                            const std::string& quant_flag,
                                                            OrtRuntime& runtime);

  bool has_timestamps() const { return has_timestamps_; }  // 4 outputs
  const OnnxFileInfo& info() const { return info_; }
  static constexpr int kFeatDim = 560;

  // feats: T x 560 (LFR 7/6 + CMVN, unscaled: the export scales and position-encodes).
  // Vectors in `out` are resized; their capacity is reused.
  void run(const float* feats, int T, OfflineOutput& out) const;

  OfflineParaformerModel(const OfflineParaformerModel&) = delete;
  OfflineParaformerModel& operator=(const OfflineParaformerModel&) = delete;
  ~OfflineParaformerModel();

 private:
  OfflineParaformerModel() = default;
  const OrtRuntime* runtime_ = nullptr;
  std::unique_ptr<Ort::Session> session_;
  bool has_timestamps_ = false;
  OnnxFileInfo info_;
  std::vector<std::string> in_names_, out_names_;
  std::vector<const char*> in_ptrs_, out_ptrs_;
};

}  // namespace paraserve
