// Shared test fixture: hand-built contract models (make_contract_models.py), generated once
// per test program into a temp dir; plus helpers to locate the generated model sets.
#pragma once
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <unistd.h>

#include "common/error.h"

namespace paraserve::test {

// The message of the paraserve::Error that `f` throws, or "(no error)".
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// Directory with good/… and bad/… model dirs (see make_contract_models.py), generated on
// first use and removed at program exit.
struct ContractModels {
  std::string dir;
  ContractModels() {
    namespace fs = std::filesystem;
    const fs::path out = fs::temp_directory_path() / ("paraserve_models_test_" + std::to_string(::getpid()));
    fs::remove_all(out);
    const std::string cmd = std::string("/usr/bin/python3 ") + PARASERVE_SOURCE_DIR +
                            "/tests/models/make_contract_models.py " + out.string();
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("failed: " + cmd);
    dir = out.string();
  }
  ~ContractModels() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

inline const std::string& contract_models() {
  static const ContractModels models;
  return models.dir;
}

inline std::string good(const std::string& name) { return contract_models() + "/good/" + name; }
inline std::string bad(const std::string& name) { return contract_models() + "/bad/" + name; }

// models/<set>/<sub> if generated, else "".
inline std::string model_set_dir(const std::string& set, const std::string& sub) {
  const std::string p = std::string(PARASERVE_TEST_MODELS) + "/" + set + "/" + sub;
  return std::filesystem::is_directory(p) ? p : std::string();
}

}  // namespace paraserve::test
