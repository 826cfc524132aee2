// What was loaded from where: used by `paraserve models`, engine descriptions and logs.
#pragma once
#include <string>

#include "models/contract.h"

namespace paraserve {

struct OnnxFileInfo {
  std::string path;
  std::string kind;        // contract kind, e.g. "online-decoder"
  bool quantized = false;  // the *_quant.onnx file was chosen
  ModelContract io;        // the session's actual inputs/outputs
  double load_ms = 0;      // session creation + contract check
};

}  // namespace paraserve
