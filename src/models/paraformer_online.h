// Streaming Paraformer (funasr-compat.md §3.3): encoder + decoder sessions, am.mvn,
// config.yaml and tokens.json of the online dir. Shared and immutable after load; the run
// methods are const and thread-safe. All per-stream state (decoder caches, buffers) is
// owned by the caller.
#pragma once
#include <cstdint>
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

  // ---- Batched calls (issue 11): B independent requests, stacked on the batch axis ----
  //
  // Results are the same as B single calls (same tensors within float rounding of the
  // summation order; fp32 models), because a Run only stacks requests whose padding the
  // exports provably ignore:
  //   encoder: one Run per distinct T. FunASR's streaming export is not padding-invariant
  //            in T: its CIF predictor's k=3 convolution reads the (unmasked) encoder output
  //            of the first padded frame, which changes alphas[T-1] of a shorter request.
  //            A 600 ms chunk is always a+b+c frames, so the common case is one Run.
  //   decoder: one Run per distinct N; within it enc is padded to the longest T (the cross
  //            attention masks it via enc_len). Not N, because each FSMN block's out_cache
  //            is the last lorder columns of [in_cache | masked rows] over the padded N: a
  //            shorter request would get zeros there instead of its own last rows.
  // int8 exports quantize activations per tensor (DynamicQuantizeLinear over the whole
  // batch), so with *_quant models a batched result is close to, not equal to, the
  // single-request one (docs/performance.md, "Batched model calls").
  //
  // Requests are independent: their order in the span is free, each gets exactly its own
  // rows. A request alone in its group runs on its own buffers (the same Run as the single
  // call, so bit-identical); output buffers must not overlap any request's inputs. All
  // other memory is the caller's `BatchScratch`, sized once; no allocation per call beyond
  // ORT's own.
  static constexpr int kMaxBatch = 64;  // hard cap on requests per batched call

  struct EncodeRequest {
    const float* feats = nullptr;  // T x 560, scaled and position-encoded as for encode()
    int T = 0;
    float* enc = nullptr;     // out: T x encoder_dim()
    float* alphas = nullptr;  // out: T
  };
  struct DecodeRequest {
    const float* enc = nullptr;  // T x encoder_dim()
    int T = 0;
    const float* embeds = nullptr;  // N x encoder_dim()
    int N = 0;
    float* const* caches = nullptr;  // num_caches() pointers; read, then overwritten (as decode())
    float* logits = nullptr;         // out: N x vocab_size()
  };

  // Limits a scratch is sized for; a request beyond them is refused with an Error.
  struct BatchLimits {
    int max_batch = 16;   // requests per call, 1..kMaxBatch
    int max_frames = 64;  // T of one encoder or decoder request
    int max_tokens = 32;  // N of one decoder request
  };

  // Caller-owned buffers for the batched calls of one model, sized for `limits` at
  // construction (bytes() tells how much). Not shared between threads.
  class BatchScratch {
   public:
    BatchScratch(const OnlineParaformerModel& model, const BatchLimits& limits);
    const BatchLimits& limits() const { return limits_; }
    std::size_t bytes() const;

   private:
    friend class OnlineParaformerModel;
    BatchLimits limits_;
    std::vector<float> feats_, enc_, alphas_;         // encoder in / out
    std::vector<float> embeds_, logits_;              // decoder in / out (enc_: its enc input)
    std::vector<float> cache_in_, cache_out_;         // num_caches x [max_batch, D, lorder]
    std::vector<int32_t> len_a_, len_b_;              // per-request lengths
    std::vector<int> order_;                          // requests sorted by group key
  };

  // Encodes every request (see above for the Runs made). Throws paraserve::Error on a
  // request with T < 1 or T > limits.max_frames, more than limits.max_batch requests, or
  // a model whose batch axis is fixed (batchable() false) when more than one is given.
  void encode_batch(std::span<const EncodeRequest> requests, BatchScratch& scratch) const;
  // Decodes every request (N >= 1 each; N > limits.max_tokens refused).
  void decode_batch(std::span<const DecodeRequest> requests, BatchScratch& scratch) const;

  // True when both exports declare a dynamic batch axis (FunASR's do).
  bool batchable() const { return batchable_; }

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
  bool batchable_ = false;

  // One encoder Run on B stacked requests of T frames each: feats [B,T,560], lens [B],
  // enc [B,T,D], alphas [B,T].
  // Refuses a batch above the scratch's limit, or above 1 for a fixed-batch export.
  void check_batch_size(const std::string& path, const char* call, int n, const BatchLimits& lim) const;
  void run_encoder(const float* feats, const int32_t* lens, int B, int T, float* enc, float* alphas) const;
  // One decoder Run: enc [B,T,D] with enc_lens, embeds [B,N,D] with emb_lens; cache_in[i]
  // and cache_out[i] are [B,D,lorder] (distinct memory); logits [B,N,V].
  void run_decoder(const float* enc, const int32_t* enc_lens, int B, int T, const float* embeds,
                   const int32_t* emb_lens, int N, const float* const* cache_in, float* const* cache_out,
                   float* logits) const;
};

}  // namespace paraserve
