#include "models/ort_runtime.h"

#include <filesystem>
#include <string>

#include "common/error.h"

namespace paraserve {

void OrtOptions::validate() const {
  if (intra_threads < 1 || intra_threads > 256)
    throw Error("ort options: intra_threads is " + std::to_string(intra_threads) + ", expected 1..256");
  if (graph_opt_level != 0 && graph_opt_level != 1 && graph_opt_level != 2 && graph_opt_level != 99)
    throw Error("ort options: graph_opt_level is " + std::to_string(graph_opt_level) +
                ", expected 0, 1, 2 or 99");
}

namespace {
GraphOptimizationLevel to_level(int level) {
  switch (level) {
    case 0: return ORT_DISABLE_ALL;
    case 1: return ORT_ENABLE_BASIC;
    case 2: return ORT_ENABLE_EXTENDED;
    default: return ORT_ENABLE_ALL;
  }
}
}  // namespace

OrtRuntime::OrtRuntime(const OrtOptions& options)
    : options_((options.validate(), options)),
      env_(ORT_LOGGING_LEVEL_ERROR, "paraserve"),
      cpu_memory_(Ort::MemoryInfo::CreateCpu(OrtDeviceAllocator, OrtMemTypeDefault)) {
  session_options_.SetIntraOpNumThreads(options_.intra_threads);
  session_options_.SetInterOpNumThreads(1);
  session_options_.SetExecutionMode(ORT_SEQUENTIAL);
  session_options_.SetGraphOptimizationLevel(to_level(options_.graph_opt_level));
  if (options_.cpu_arena) session_options_.EnableCpuMemArena();
  else session_options_.DisableCpuMemArena();
  if (options_.mem_pattern) session_options_.EnableMemPattern();
  else session_options_.DisableMemPattern();
  session_options_.AddConfigEntry("session.intra_op.allow_spinning", options_.allow_spinning ? "1" : "0");
  session_options_.AddConfigEntry("session.inter_op.allow_spinning", options_.allow_spinning ? "1" : "0");
  if (!options_.profile_prefix.empty()) session_options_.EnableProfiling(options_.profile_prefix.c_str());
}

std::unique_ptr<Ort::Session> OrtRuntime::open(const std::string& path) const {
  if (options_.profile_prefix.empty()) return open_with(path, session_options_);
  // One profile per session: "<prefix><folder>_<stem>", e.g. "/tmp/p-online_model_quant".
  const std::filesystem::path p(path);
  const std::string prefix = options_.profile_prefix + p.parent_path().filename().string() + "_" + p.stem().string();
  Ort::SessionOptions so = session_options_.Clone();
  so.EnableProfiling(prefix.c_str());
  return open_with(path, so);
}

std::unique_ptr<Ort::Session> OrtRuntime::open_and_save_optimized(const std::string& path,
                                                                  const std::string& optimized_path) const {
  Ort::SessionOptions so = session_options_.Clone();
  so.SetOptimizedModelFilePath(optimized_path.c_str());
  return open_with(path, so);
}

std::unique_ptr<Ort::Session> OrtRuntime::open_with(const std::string& path, const Ort::SessionOptions& so) const {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw Error(path + ": no such model file");
  try {
    return std::make_unique<Ort::Session>(env_, path.c_str(), so);
  } catch (const Ort::Exception& e) {
    std::string msg = e.what();
    for (char& c : msg)
      if (c == '\n' || c == '\r') c = ' ';
    throw Error(path + ": cannot load ONNX model: " + msg);
  }
}

}  // namespace paraserve
