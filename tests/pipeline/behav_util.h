// Helpers for tests that run the behavioural models (models/behav, docs/test-models.md):
// WAV reading, behaviour.json, and the expected punctuation derived from the documented
// rules (funasr-compat.md §3.5.1 + behaviour.json punc_table), independent of our code.
#pragma once
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "pipeline/engine.h"

namespace paraserve::testing {

inline std::string models_dir() { return PARASERVE_TEST_MODELS; }
inline std::string behav_dir() { return models_dir() + "/behav"; }

// The behavioural set as a 2pass engine (fp32 everywhere); `offline` names the second-pass folder.
inline EngineConfig behav_engine_config(const std::string& offline = "offline") {
  EngineConfig c;
  c.vad_dir = behav_dir() + "/vad";
  c.online_model_dir = behav_dir() + "/online";
  c.offline_model_dir = behav_dir() + "/" + offline;
  c.punc_dir = behav_dir() + "/punc";
  c.quantize = c.vad_quant = c.punc_quant = "false";
  return c;
}

struct Pcm {
  int sample_rate = 0;
  std::vector<int16_t> samples;  // mono (channels averaged)
};

// Minimal reader for the generator's WAVs (PCM s16, any channel count).
inline Pcm read_wav_s16(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  std::vector<char> b((std::istreambuf_iterator<char>(f)), {});
  auto u16 = [&](std::size_t o) { uint16_t v; std::memcpy(&v, &b[o], 2); return v; };
  auto u32 = [&](std::size_t o) { uint32_t v; std::memcpy(&v, &b[o], 4); return v; };
  Pcm out;
  int channels = 1;
  std::size_t pos = 12;
  while (pos + 8 <= b.size()) {
    std::string id(&b[pos], 4);
    uint32_t size = u32(pos + 4);
    if (id == "fmt ") {
      channels = u16(pos + 10);
      out.sample_rate = static_cast<int>(u32(pos + 12));
    } else if (id == "data") {
      std::size_t n = size / 2 / static_cast<std::size_t>(channels);
      out.samples.resize(n);
      for (std::size_t i = 0; i < n; ++i) {
        int sum = 0;
        for (int c = 0; c < channels; ++c) {
          int16_t v;
          std::memcpy(&v, &b[pos + 8 + (i * static_cast<std::size_t>(channels) + static_cast<std::size_t>(c)) * 2], 2);
          sum += v;
        }
        out.samples[i] = static_cast<int16_t>(sum / channels);
      }
      break;
    }
    pos += 8 + size + (size & 1);
  }
  return out;
}

inline const nlohmann::json& behaviour() {
  static const nlohmann::json j = [] {
    std::ifstream f(behav_dir() + "/behaviour.json");
    return nlohmann::json::parse(f);
  }();
  return j;
}

// Punctuation words of a raw text: split on spaces, ASCII runs are one word, other UTF-8
// characters one word each (the CT-Transformer tokenizer, §3.5.1).
inline std::vector<std::string> punc_words(const std::string& text) {
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == ' ') { ++i; continue; }
    if (c < 0x80) {
      std::size_t j = i;
      while (j < text.size() && static_cast<unsigned char>(text[j]) < 0x80 && text[j] != ' ') ++j;
      words.push_back(text.substr(i, j - i));
      i = j;
    } else {
      std::size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
      words.push_back(text.substr(i, len));
      i += len;
    }
  }
  return words;
}

// The realtime punctuation (AddPunc with cache) for inputs shorter than one 20-token window,
// with behaviour.json's punc_table: cached words are not output except the punctuation of
// the last one; ASCII words are separated by a space; `_` emits nothing; the new cache is
// the words after the last 。/？ found among words 1..size-2; one trailing punctuation is removed.
inline std::string expected_realtime_punc(const std::string& raw, std::vector<std::string>& cache) {
  const auto& table = behaviour()["punc_table"];
  std::vector<std::string> full = cache;
  for (auto& w : punc_words(raw)) full.push_back(w);
  auto is_ascii = [](const std::string& w) { return !w.empty() && static_cast<unsigned char>(w[0]) < 0x80; };
  std::string out;
  std::size_t last_end = 0;
  bool any_end = false;
  for (std::size_t i = 0; i < full.size(); ++i) {
    std::string p = table.contains(full[i]) ? table[full[i]].get<std::string>() : "_";
    if (i >= cache.size()) {
      out += full[i];
      if (p == "_" && is_ascii(full[i]) && i + 1 < full.size() && is_ascii(full[i + 1])) out += " ";
    }
    if (p != "_" && i + 1 >= cache.size()) out += p;
    // The sentence-end search runs over indices [1, size-2]: the last word and the first
    // never end the cached sentence (ct-transformer-online.cpp).
    if ((p == "。" || p == "？") && i >= 1 && i + 2 <= full.size()) {
      last_end = i + 1;
      any_end = true;
    }
  }
  cache.assign(full.begin() + static_cast<std::ptrdiff_t>(any_end ? last_end : 0), full.end());
  for (const char* t : {"，", "。", "？", "、"}) {
    std::string s(t);
    if (out.size() >= s.size() && out.compare(out.size() - s.size(), s.size(), s) == 0) {
      out.resize(out.size() - s.size());
      break;
    }
  }
  return out;
}

}  // namespace paraserve::testing
