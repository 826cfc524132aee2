// Helpers shared by the front-end tests: fixture loading and small signal generators.
#pragma once
#include <cmath>
#include <cstdint>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace paraserve::test {

inline std::string fixture_path(const std::string& name) {
  return std::string(PARASERVE_SOURCE_DIR) + "/tests/frontend/fixtures/" + name;
}

inline nlohmann::json load_json(const std::string& name) {
  std::ifstream f(fixture_path(name));
  if (!f) throw std::runtime_error("missing fixture " + fixture_path(name) +
                                   " (run /usr/bin/python3 tools/fixtures/make_fbank_fixtures.py)");
  return nlohmann::json::parse(f);
}

struct FbankFixture {
  std::string name;
  std::vector<float> samples;  // int16 scale
  int num_frames = 0;
  int dim = 0;
  std::vector<float> fbank;
};

inline FbankFixture load_fbank_fixture(const std::string& name) {
  const auto j = load_json("fbank_" + name + ".json");
  FbankFixture fx;
  fx.name = name;
  for (int v : j.at("samples")) fx.samples.push_back(static_cast<float>(v));
  fx.num_frames = j.at("num_frames");
  fx.dim = j.at("dim");
  fx.fbank = j.at("fbank").get<std::vector<float>>();
  return fx;
}

inline float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float m = 0;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

// Deterministic speech-like test signal in int16 scale.
inline std::vector<float> synth_signal(std::size_t n, unsigned seed = 1) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, 200.0f);
  std::vector<float> x(n);
  double phase = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / 16000.0;
    phase += 2 * M_PI * (150 + 20 * std::sin(2 * M_PI * 4 * t)) / 16000.0;
    double v = 0;
    for (int h = 1; h <= 12; ++h) v += std::sin(h * phase) / h;
    x[i] = static_cast<float>(6000 * v * (0.3 + 0.7 * std::abs(std::sin(2 * M_PI * 2.5 * t)))) + noise(rng);
  }
  return x;
}

}  // namespace paraserve::test
