// File names inside a FunASR model directory (funasr-compat.md §3.1).
#pragma once
#include <string>
#include <string_view>

namespace paraserve {

// FunASR's loader picks the quantized file only when the flag is exactly "true"
// ("True", "1", "yes" all load the fp32 file).
bool quantize_selected(std::string_view quant_flag);

// dir/<stem>_quant.onnx when quantize_selected(quant_flag), else dir/<stem>.onnx.
// Throws paraserve::Error naming the directory, the file expected and the flag that chose it.
std::string resolve_onnx(const std::string& dir, std::string_view stem, std::string_view quant_flag);

// dir/name; throws paraserve::Error "<dir>: missing <name> (<why>)" if it is not a file.
std::string require_file(const std::string& dir, std::string_view name, std::string_view why = {});

// dir/name if it is a regular file, else "".
std::string optional_file(const std::string& dir, std::string_view name);

std::string join_path(const std::string& dir, std::string_view name);

}  // namespace paraserve
