// FSMN-VAD (funasr-compat.md §3.2): shared, immutable after load; run() is thread-safe.
#pragma once
#include <array>
#include <memory>
#include <string>
#include <vector>

#include "frontend/cmvn.h"
#include "models/config.h"
#include "models/model_info.h"
#include "models/ort_runtime.h"

namespace paraserve {

class VadModel {
 public:
  static constexpr int kCacheFloats = 128 * 19;  // one FSMN cache [1,128,19,1]
  static constexpr int kFeatDim = 400;
  static constexpr int kNumPdfs = 248;

  // Reads dir/{model.onnx|model_quant.onnx, am.mvn, config.yaml}; checks the contract.
  static std::shared_ptr<const VadModel> load(const std::string& dir, const std::string& quant_flag,
                                              OrtRuntime& runtime);

  const VadConfig& config() const { return config_; }
  const Cmvn& cmvn() const { return cmvn_; }
  const OnnxFileInfo& info() const { return info_; }

  // feats: T x 400 (LFR+CMVN), T >= 1. caches: 4 x kCacheFloats, read as in_cache0..3 and,
  // iff update_caches, overwritten with out_cache0..3. probs is resized to T x 248 (softmax
  // probabilities). Its capacity is reused (also as scratch for the output caches), so a
  // caller that keeps `probs` across calls does not allocate in steady state.
  void run(const float* feats, int T, std::array<float*, 4> caches, bool update_caches,
           std::vector<float>& probs) const;

  VadModel(const VadModel&) = delete;
  VadModel& operator=(const VadModel&) = delete;
  ~VadModel();

 private:
  VadModel() = default;
  const OrtRuntime* runtime_ = nullptr;
  std::unique_ptr<Ort::Session> session_;
  VadConfig config_;
  Cmvn cmvn_;
  OnnxFileInfo info_;
  std::vector<std::string> in_names_, out_names_;
  std::vector<const char*> in_ptrs_, out_ptrs_;
};

}  // namespace paraserve
