// Adapter from the ONNX punctuation model (models/punc_model.h) to decode's PuncRunner. It lives in
// pipeline, the lowest layer that sees both models and decode (docs/architecture.md, "Layers").
#pragma once
#include <vector>

#include "decode/punctuator.h"
#include "models/punc_model.h"

namespace paraserve {

class PuncModelRunner final : public PuncRunner {
 public:
  explicit PuncModelRunner(const PuncModel& model) : model_(model) {}

  void run(std::span<const int32_t> ids, const float* mask,
           std::vector<float>& logits) const override {
    const int L = static_cast<int>(ids.size());
    if (mask == nullptr && model_.realtime()) {
      // The offline algorithm on a realtime export: nothing is cached, so the mask is all ones.
      std::vector<float> ones;
      punc_vad_mask(L, 0, ones);
      model_.run(ids.data(), L, ones.data(), logits);
      return;
    }
    model_.run(ids.data(), L, mask, logits);
  }
  int num_classes() const override { return model_.num_classes(); }

 private:
  const PuncModel& model_;
};

}  // namespace paraserve
