#include "models/onnx_util.h"

#include "common/error.h"

namespace paraserve::detail {

OpenedModel open_model(const OrtRuntime& rt, const std::string& path, bool quantized) {
  OpenedModel m;
  m.t0 = std::chrono::steady_clock::now();
  m.session = rt.open(path);
  m.info.path = path;
  m.info.quantized = quantized;
  m.info.io = read_contract(*m.session);
  return m;
}

void OpenedModel::check(const ModelContract& expected) {
  const std::string mismatch = contract_mismatch(info.io, expected);
  if (!mismatch.empty()) throw Error(info.path + ": " + mismatch);
  info.kind = expected.kind;
  info.load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

void set_names(const std::vector<TensorSpec>& specs, std::vector<std::string>& names,
               std::vector<const char*>& ptrs) {
  names.clear();
  for (const auto& s : specs) names.push_back(s.name);
  ptrs.clear();
  for (const auto& n : names) ptrs.push_back(n.c_str());
}

void rethrow_run_error(const std::string& path, const Ort::Exception& e) {
  std::string msg = e.what();
  for (char& c : msg)
    if (c == '\n' || c == '\r') c = ' ';
  throw Error(path + ": inference failed: " + msg);
}

}  // namespace paraserve::detail
