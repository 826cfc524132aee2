// Streaming Paraformer (funasr-compat.md §3.3): encoder + decoder sessions, am.mvn,
// config.yaml and tokens.json of the online dir. Shared and immutable after load; the run
// methods are const and thread-safe. All per-stream state (decoder caches, buffers) is
// owned by the caller.
#pragma once
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "frontend/cmvn.h"
#include "models/config.h"
#include "models/model_info.h"
#include "models/ort_runtime.h"
#include "models/vocab.h"

namespace paraserve {

class OnlineParaformerModel {
 public:
  // Reads dir/{model|model_quant}.onnx (encoder), dir/{decoder|decoder_quant}.onnx,
  // am.mvn, config.yaml, tokens.json; checks both contracts (cache count/dims from config).
  static std::shared_ptr<const OnlineParaformerModel> load(const std::string& dir,
                                                           const std::string& quant_flag,
                                                           OrtRuntime& runtime);

  const OnlineAsrConfig& config() const { return config_; }
  const Cmvn& cmvn() const { return cmvn_; }
  const Vocab& vocab() const { return vocab_; }
  int vocab_size() const { return vocab_.size(); }
  int encoder_dim() const { return config_.encoder_size; }
  int feat_dim() const { return kFeatDim; }
  int num_caches() const { return config_.fsmn_layers; }
  int cache_floats() const { return config_.encoder_size * config_.fsmn_lorder; }  // one cache
  const OnnxFileInfo& encoder_info() const { return encoder_info_; }
  const OnnxFileInfo& decoder_info() const { return decoder_info_; }

  static constexpr int kFeatDim = 560;

  // feats: T x 560, already scaled by sqrt(D) and position-encoded by the caller (the
  // streaming export does neither). enc -> T x D, alphas -> T (resized; capacity reused).
  void encode(const float* feats, int T, std::vector<float>& enc, std::vector<float>& alphas) const;

  // enc: T x D from encode(); embeds: N x D CIF-fired embeddings (N >= 1).
  // caches: num_caches() pointers to cache_floats() floats, read as in_cache_i and
  // overwritten with out_cache_i. logits -> N x vocab_size() (resized; its capacity is
  // also used as scratch for the output caches, so keep it across calls).
  void decode(const float* enc, int T, const float* embeds, int N, std::span<float* const> caches,
              std::vector<float>& logits) const;

  OnlineParaformerModel(const OnlineParaformerModel&) = delete;
  OnlineParaformerModel& operator=(const OnlineParaformerModel&) = delete;
  ~OnlineParaformerModel();

 private:
  OnlineParaformerModel() = default;
  const OrtRuntime* runtime_ = nullptr;
  std::unique_ptr<Ort::Session> encoder_, decoder_;
  OnlineAsrConfig config_;
  Cmvn cmvn_;
  Vocab vocab_;
  OnnxFileInfo encoder_info_, decoder_info_;
  std::vector<std::string> enc_in_, enc_out_, dec_in_, dec_out_;
  std::vector<const char*> enc_in_ptrs_, enc_out_ptrs_, dec_in_ptrs_, dec_out_ptrs_;
};

}  // namespace paraserve
