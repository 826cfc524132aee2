// ONNX I/O contracts of the FunASR exports (funasr-compat.md §3) and the check that a
// loaded session matches one. FunASR feeds tensors positionally, so names, order,
// element types and fixed dims all matter; a mismatch is reported as one line naming the
// file and the first difference.
#pragma once
#include <onnxruntime_cxx_api.h>

#include <cstdint>
#include <string>
#include <vector>

namespace paraserve {

struct OnlineAsrConfig;

struct TensorSpec {
  std::string name;
  ONNXTensorElementDataType type = ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
  std::vector<int64_t> shape;  // -1 = any (dynamic); a model's symbolic dim matches anything
};

struct ModelContract {
  std::string kind;  // e.g. "vad", "online-encoder", "offline-timestamp"
  std::vector<TensorSpec> inputs, outputs;
};

// Fixed dims of the FunASR exports.
inline constexpr int kVadFeatDim = 400;     // LFR 5 x 80
inline constexpr int kVadCacheCount = 4;    // FSMN layers
inline constexpr int kVadProjDim = 128;
inline constexpr int kVadCacheFrames = 19;  // lorder + rorder - 1
inline constexpr int kVadOutputDim = 248;
inline constexpr int kAsrFeatDim = 560;     // LFR 7 x 80 (fixed in FunASR, not read from config)
inline constexpr int kPuncClasses = 6;

// vocab < 0: do not check the vocabulary dim of logits.
ModelContract vad_contract();
ModelContract online_encoder_contract(const OnlineAsrConfig& cfg);
ModelContract online_decoder_contract(const OnlineAsrConfig& cfg, int vocab = -1);
ModelContract offline_contract(bool timestamps, int vocab = -1);            // 2 or 4 outputs
ModelContract offline_hotword_contract(bool seaco, int vocab = -1);         // contextual / SeACo
ModelContract hotword_embedder_contract();                                  // model_eb.onnx
ModelContract punc_contract(bool realtime, int classes = kPuncClasses);     // 4 or 2 inputs

// The session's actual I/O, read back as a contract (kind = "actual").
ModelContract read_contract(const Ort::Session& session);

// Throws paraserve::Error "<path>: <first mismatch>" if `session` does not match.
void check_contract(const Ort::Session& session, const ModelContract& expected, const std::string& path);
// Same check on an already-read contract; returns "" when it matches, else the mismatch.
std::string contract_mismatch(const ModelContract& actual, const ModelContract& expected);

// Which offline Paraformer variant a session is, from its I/O count:
// "offline" (2 in, 2 out), "offline-timestamp" (2 in, 4 out), "offline-contextual"
// (3 in, 2 out), "offline-seaco" (3 in, 4 out); "" if none.
std::string classify_offline(const ModelContract& actual);

// "float32", "int32", "int64", ...; "[1,-1,560]".
std::string dtype_name(ONNXTensorElementDataType type);
std::string shape_string(const std::vector<int64_t>& shape);
std::string describe_tensor(const TensorSpec& spec);  // "speech float32 [1,-1,560]"

}  // namespace paraserve
