// CT-Transformer punctuation (funasr-compat.md §3.5): realtime (4 inputs: inputs,
// text_lengths, vad_masks, sub_masks) or offline (2 inputs). Shared, immutable after load;
// run() is const and thread-safe.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/config.h"
#include "models/model_info.h"
#include "models/ort_runtime.h"
#include "models/vocab.h"

namespace paraserve {

class PuncModel {
 public:
  // Reads dir/{model|model_quant}.onnx, config.yaml (model_conf.punc_list), tokens.json.
  static std::shared_ptr<const PuncModel> load(const std::string& dir, const std::string& quant_flag,
                                               OrtRuntime& runtime);

  const Vocab& vocab() const { return vocab_; }
  const PuncConfig& config() const { return config_; }
  const std::vector<std::string>& punc_list() const { return config_.punc_list; }
  int num_classes() const { return static_cast<int>(config_.punc_list.size()); }
  bool realtime() const { return realtime_; }  // 4 inputs (vad_realtime export)
  const OnnxFileInfo& info() const { return info_; }

  // ids: L token ids (L >= 1). mask: L x L, passed as both vad_masks and sub_masks (as
  // FunASR does); required for a realtime model, ignored (may be nullptr) for an offline
  // one. logits -> L x num_classes() (resized; capacity reused).
  void run(const int32_t* ids, int L, const float* mask, std::vector<float>& logits) const;

  PuncModel(const PuncModel&) = delete;
  PuncModel& operator=(const PuncModel&) = delete;
  ~PuncModel();

 private:
  PuncModel() = default;
  const OrtRuntime* runtime_ = nullptr;
  std::unique_ptr<Ort::Session> session_;
  PuncConfig config_;
  Vocab vocab_;
  bool realtime_ = false;
  OnnxFileInfo info_;
  std::vector<std::string> in_names_, out_names_;
  std::vector<const char*> in_ptrs_, out_ptrs_;
};

}  // namespace paraserve
