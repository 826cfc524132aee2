#include "models/contract.h"

#include "common/error.h"
#include "models/config.h"

namespace paraserve {

namespace {

constexpr auto F32 = ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
constexpr auto I32 = ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32;
constexpr auto I64 = ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64;

TensorSpec spec(std::string name, ONNXTensorElementDataType type, std::vector<int64_t> shape) {
  return TensorSpec{std::move(name), type, std::move(shape)};
}

// A tensor name as it appears in a message: names come from the model file, and a control
// character (e.g. a newline) must not split the one-line error or log line.
std::string printable(const std::string& name) {
  std::string out;
  out.reserve(name.size());
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  return out;
}

std::string where(bool input, std::size_t i, const std::string& name) {
  return std::string(input ? "input " : "output ") + std::to_string(i) + " '" + printable(name) + "'";
}

// First difference between two tensor lists, or "".
std::string list_mismatch(const std::vector<TensorSpec>& actual, const std::vector<TensorSpec>& expected,
                          bool input, const std::string& kind) {
  const char* what = input ? "inputs" : "outputs";
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const TensorSpec& e = expected[i];
    if (i >= actual.size())
      return std::string("has ") + std::to_string(actual.size()) + " " + what + ", expected " +
             std::to_string(expected.size()) + " for a " + kind + " model (missing " + what +
             " " + std::to_string(i) + " '" + e.name + "')";
    const TensorSpec& a = actual[i];
    const std::string dir = input ? "input " : "output ";
    if (a.name != e.name)
      return dir + std::to_string(i) + " is '" + printable(a.name) + "', expected '" + e.name + "'";
    if (a.type != e.type)
      return dir + std::to_string(i) + " is '" + printable(a.name) + "' " + dtype_name(a.type) + ", expected " +
             dtype_name(e.type);
    if (a.shape.size() != e.shape.size())
      return where(input, i, a.name) + " has shape " + shape_string(a.shape) + ", expected rank " +
             std::to_string(e.shape.size()) + " " + shape_string(e.shape);
    for (std::size_t d = 0; d < e.shape.size(); ++d) {
      if (e.shape[d] >= 0 && a.shape[d] >= 0 && a.shape[d] != e.shape[d])
        return where(input, i, a.name) + " has shape " + shape_string(a.shape) + ", expected " +
               shape_string(e.shape) + " (dim " + std::to_string(d) + ")";
    }
  }
  if (actual.size() > expected.size())
    return std::string("has ") + std::to_string(actual.size()) + " " + what + ", expected " +
           std::to_string(expected.size()) + " for a " + kind + " model (extra " + what + " " +
           std::to_string(expected.size()) + " '" + printable(actual[expected.size()].name) + "')";
  return {};
}

TensorSpec read_spec(const Ort::TypeInfo& info, std::string name) {
  TensorSpec s;
  s.name = std::move(name);
  if (info.GetONNXType() != ONNX_TYPE_TENSOR) {
    s.type = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
    return s;
  }
  auto t = info.GetTensorTypeAndShapeInfo();
  s.type = t.GetElementType();
  s.shape = t.GetShape();
  for (auto& d : s.shape)
    if (d < 0) d = -1;
  return s;
}

}  // namespace

std::string dtype_name(ONNXTensorElementDataType type) {
  switch (type) {
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT: return "float32";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE: return "float64";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16: return "float16";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16: return "bfloat16";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8: return "int8";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8: return "uint8";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT16: return "int16";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT16: return "uint16";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32: return "int32";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT32: return "uint32";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64: return "int64";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64: return "uint64";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL: return "bool";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING: return "string";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED: return "non-tensor";
    default: return "dtype#" + std::to_string(static_cast<int>(type));
  }
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += shape[i] < 0 ? std::string("?") : std::to_string(shape[i]);
  }
  return s + "]";
}

std::string describe_tensor(const TensorSpec& s) {
  return printable(s.name) + " " + dtype_name(s.type) + " " + shape_string(s.shape);
}

ModelContract vad_contract() {
  ModelContract c{"vad", {}, {}};
  c.inputs.push_back(spec("speech", F32, {1, -1, kVadFeatDim}));
  for (int i = 0; i < kVadCacheCount; ++i)
    c.inputs.push_back(spec("in_cache" + std::to_string(i), F32, {1, kVadProjDim, kVadCacheFrames, 1}));
  c.outputs.push_back(spec("logits", F32, {1, -1, kVadOutputDim}));
  for (int i = 0; i < kVadCacheCount; ++i)
    c.outputs.push_back(spec("out_cache" + std::to_string(i), F32, {1, kVadProjDim, kVadCacheFrames, 1}));
  return c;
}

ModelContract online_encoder_contract(const OnlineAsrConfig& cfg) {
  ModelContract c{"online-encoder", {}, {}};
  c.inputs = {spec("speech", F32, {1, -1, kAsrFeatDim}), spec("speech_lengths", I32, {1})};
  c.outputs = {spec("enc", F32, {1, -1, cfg.encoder_size}), spec("enc_len", I32, {1}),
               spec("alphas", F32, {1, -1})};
  return c;
}

ModelContract online_decoder_contract(const OnlineAsrConfig& cfg, int vocab) {
  ModelContract c{"online-decoder", {}, {}};
  const int64_t d = cfg.encoder_size;
  c.inputs = {spec("enc", F32, {1, -1, d}), spec("enc_len", I32, {1}), spec("acoustic_embeds", F32, {1, -1, d}),
              spec("acoustic_embeds_len", I32, {1})};
  for (int i = 0; i < cfg.fsmn_layers; ++i)
    c.inputs.push_back(spec("in_cache_" + std::to_string(i), F32, {1, d, cfg.fsmn_lorder}));
  c.outputs = {spec("logits", F32, {1, -1, vocab < 0 ? -1 : vocab}), spec("sample_ids", I64, {1, -1})};
  for (int i = 0; i < cfg.fsmn_layers; ++i)
    c.outputs.push_back(spec("out_cache_" + std::to_string(i), F32, {1, d, cfg.fsmn_lorder}));
  return c;
}

ModelContract offline_contract(bool timestamps, int vocab) {
  ModelContract c{timestamps ? "offline-timestamp" : "offline", {}, {}};
  c.inputs = {spec("speech", F32, {1, -1, kAsrFeatDim}), spec("speech_lengths", I32, {1})};
  // token_num is int32 in the exports, but FunASR's runtime reads it as int64 (§3.4.1):
  // accept either (checked separately below), read with its real type.
  c.outputs = {spec("logits", F32, {1, -1, vocab < 0 ? -1 : vocab}), spec("token_num", I32, {1})};
  if (timestamps) {
    c.outputs.push_back(spec("us_alphas", F32, {1, -1}));
    c.outputs.push_back(spec("us_cif_peak", F32, {1, -1}));
  }
  return c;
}

ModelContract offline_hotword_contract(bool seaco, int vocab) {
  ModelContract c = offline_contract(seaco, vocab);
  c.kind = seaco ? "offline-seaco" : "offline-contextual";
  c.inputs.push_back(spec("bias_embed", F32, {1, -1, 512}));
  return c;
}

ModelContract hotword_embedder_contract() {
  ModelContract c{"hotword-embedder", {}, {}};
  c.inputs = {spec("hotword", I32, {-1, 10})};
  c.outputs = {spec("hw_embed", F32, {10, -1, 512})};
  return c;
}

ModelContract punc_contract(bool realtime, int classes) {
  ModelContract c{realtime ? "punc-realtime" : "punc-offline", {}, {}};
  c.inputs = {spec("inputs", I32, {1, -1}), spec("text_lengths", I32, {1})};
  if (realtime) {
    c.inputs.push_back(spec("vad_masks", F32, {1, 1, -1, -1}));
    c.inputs.push_back(spec("sub_masks", F32, {1, 1, -1, -1}));
  }
  c.outputs = {spec("logits", F32, {1, -1, classes})};
  return c;
}

ModelContract read_contract(const Ort::Session& session) {
  ModelContract c{"actual", {}, {}};
  Ort::AllocatorWithDefaultOptions alloc;
  for (std::size_t i = 0; i < session.GetInputCount(); ++i)
    c.inputs.push_back(read_spec(session.GetInputTypeInfo(i), session.GetInputNameAllocated(i, alloc).get()));
  for (std::size_t i = 0; i < session.GetOutputCount(); ++i)
    c.outputs.push_back(read_spec(session.GetOutputTypeInfo(i), session.GetOutputNameAllocated(i, alloc).get()));
  return c;
}

std::string contract_mismatch(const ModelContract& actual, const ModelContract& expected) {
  // token_num (and SenseVoice's encoder_out_lens): int32 per export, int64 accepted (the runtime
  // reads the real dtype, or never reads it).
  ModelContract exp = expected;
  for (std::size_t i = 0; i < exp.outputs.size() && i < actual.outputs.size(); ++i)
    if ((exp.outputs[i].name == "token_num" || exp.outputs[i].name == "encoder_out_lens") &&
        actual.outputs[i].name == exp.outputs[i].name &&
        actual.outputs[i].type == I64)
      exp.outputs[i].type = I64;
  std::string m = list_mismatch(actual.inputs, exp.inputs, true, exp.kind);
  if (m.empty()) m = list_mismatch(actual.outputs, exp.outputs, false, exp.kind);
  return m;
}

void check_contract(const Ort::Session& session, const ModelContract& expected, const std::string& path) {
  const std::string m = contract_mismatch(read_contract(session), expected);
  if (!m.empty()) throw Error(path + ": " + m);
}

std::string classify_offline(const ModelContract& a) {
  const std::size_t ni = a.inputs.size(), no = a.outputs.size();
  if (ni == 2 && no == 2) return "offline";
  if (ni == 2 && no == 4) return "offline-timestamp";
  if (ni == 3 && no == 2) return "offline-contextual";
  if (ni == 3 && no == 4) return "offline-seaco";
  return {};
}

}  // namespace paraserve
