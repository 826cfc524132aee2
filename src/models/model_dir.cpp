#include "models/model_dir.h"

#include <filesystem>

#include "common/error.h"

namespace paraserve {

bool quantize_selected(std::string_view quant_flag) { return quant_flag == "true"; }

std::string join_path(const std::string& dir, std::string_view name) {
  if (dir.empty()) return std::string(name);
  std::string p = dir;
  if (p.back() != '/') p += '/';
  p += name;
  return p;
}

std::string optional_file(const std::string& dir, std::string_view name) {
  std::string p = join_path(dir, name);
  std::error_code ec;
  return std::filesystem::is_regular_file(p, ec) ? p : std::string();
}

std::string require_file(const std::string& dir, std::string_view name, std::string_view why) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) throw Error(dir + ": not a directory (expected a FunASR model dir)");
  std::string p = optional_file(dir, name);
  if (p.empty()) {
    std::string msg = dir + ": missing " + std::string(name);
    if (!why.empty()) msg += " (" + std::string(why) + ")";
    throw Error(msg);
  }
  return p;
}

std::string resolve_onnx(const std::string& dir, std::string_view stem, std::string_view quant_flag) {
  const bool quant = quantize_selected(quant_flag);
  const std::string name = std::string(stem) + (quant ? "_quant.onnx" : ".onnx");
  std::string why = "chosen by quantize flag '" + std::string(quant_flag) + "'";
  if (!quant) why += "; only exactly 'true' selects " + std::string(stem) + "_quant.onnx";
  return require_file(dir, name, why);
}

}  // namespace paraserve
