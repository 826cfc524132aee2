#include "models/config.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <optional>

#include "common/error.h"

namespace paraserve {

namespace {

YAML::Node load_yaml(const std::string& path) {
  try {
    return YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw Error(path + ": cannot open config file");
  } catch (const YAML::Exception& e) {
    throw Error(path + ": invalid YAML: " + e.msg + " (line " + std::to_string(e.mark.line + 1) + ")");
  }
}

// A top-level section; an absent section is returned as an undefined node.
YAML::Node section(const YAML::Node& root, const std::string& path, const char* name) {
  if (!root.IsMap()) throw Error(path + ": expected a YAML mapping at top level");
  YAML::Node n = root[name];
  if (n.IsDefined() && !n.IsNull() && !n.IsMap()) throw Error(path + ": " + name + ": expected a mapping");
  return n;
}

template <class T>
std::optional<T> opt(const YAML::Node& sec, const std::string& path, const char* sec_name, const char* key,
                     const char* expected) {
  if (!sec.IsDefined() || sec.IsNull()) return std::nullopt;
  YAML::Node v = sec[key];
  if (!v.IsDefined() || v.IsNull()) return std::nullopt;
  try {
    if (!v.IsScalar()) throw YAML::Exception(YAML::Mark::null_mark(), "not a scalar");
    return v.as<T>();
  } catch (const YAML::Exception&) {
    throw Error(path + ": " + sec_name + "." + key + ": expected " + expected);
  }
}

template <class T>
T req(const YAML::Node& sec, const std::string& path, const char* sec_name, const char* key, const char* expected) {
  auto v = opt<T>(sec, path, sec_name, key, expected);
  if (!v) throw Error(path + ": missing " + std::string(sec_name) + "." + key + " (expected " + expected + ")");
  return *v;
}

// frontend_conf keys shared by the VAD and ASR dirs. `required` mirrors which keys the
// FunASR loader reads unconditionally.
void read_fbank(const YAML::Node& fe, const std::string& path, bool required, FbankOptions& o) {
  auto get_i = [&](const char* k, int& dst) {
    auto v = required ? std::optional<int>(req<int>(fe, path, "frontend_conf", k, "an integer"))
                      : opt<int>(fe, path, "frontend_conf", k, "an integer");
    if (v) dst = *v;
  };
  auto get_f = [&](const char* k, float& dst) {
    auto v = required ? std::optional<float>(req<float>(fe, path, "frontend_conf", k, "a number"))
                      : opt<float>(fe, path, "frontend_conf", k, "a number");
    if (v) dst = *v;
  };
  get_i("fs", o.sample_rate);
  get_i("n_mels", o.n_mels);
  get_f("frame_length", o.frame_length_ms);
  get_f("frame_shift", o.frame_shift_ms);
  auto w = required ? std::optional<std::string>(req<std::string>(fe, path, "frontend_conf", "window", "a window name"))
                    : opt<std::string>(fe, path, "frontend_conf", "window", "a window name");
  if (w) o.window = *w;
}

void validated(const std::string& path, const auto& cfg) {
  try {
    cfg.validate();
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

}  // namespace

void AsrFrontendConfig::validate() const {
  fbank.validate();
  if (lfr_m < 1 || lfr_m > 32) throw Error("frontend_conf.lfr_m is " + std::to_string(lfr_m) + ", expected 1..32");
  if (lfr_n < 1 || lfr_n > 32) throw Error("frontend_conf.lfr_n is " + std::to_string(lfr_n) + ", expected 1..32");
}

void VadConfig::validate() const {
  fbank.validate();
  if (lfr_m < 1 || lfr_n < 1) throw Error("vad lfr_m/lfr_n must be >= 1");
  if (max_end_silence_time <= 0)
    throw Error("model_conf.max_end_silence_time is " + std::to_string(max_end_silence_time) + ", expected > 0 ms");
  if (max_single_segment_time <= 0)
    throw Error("model_conf.max_single_segment_time is " + std::to_string(max_single_segment_time) +
                ", expected > 0 ms");
  if (!std::isfinite(speech_noise_thres) || speech_noise_thres < -1.0f || speech_noise_thres > 1.0f)
    throw Error("model_conf.speech_noise_thres is " + std::to_string(speech_noise_thres) + ", expected -1..1");
}

void OnlineAsrConfig::validate() const {
  frontend.validate();
  if (encoder_size < 1 || encoder_size > 65536)
    throw Error("encoder_conf.output_size is " + std::to_string(encoder_size) + ", expected 1..65536");
  if (fsmn_layers < 1 || fsmn_layers > 1024)
    throw Error("decoder_conf.num_blocks is " + std::to_string(fsmn_layers) + ", expected 1..1024");
  if (fsmn_lorder < 1 || fsmn_lorder > 1024)
    throw Error("decoder_conf.kernel_size is " + std::to_string(fsmn_lorder + 1) + ", expected 2..1025");
  if (!(cif_threshold > 0.0f) || !std::isfinite(cif_threshold))
    throw Error("predictor_conf.threshold is " + std::to_string(cif_threshold) + ", expected > 0");
  if (!(tail_alphas >= 0.0f) || !std::isfinite(tail_alphas))
    throw Error("predictor_conf.tail_threshold is " + std::to_string(tail_alphas) + ", expected >= 0");
}

void PuncConfig::validate() const {
  if (punc_list.size() < 5)
    throw Error("model_conf.punc_list has " + std::to_string(punc_list.size()) +
                " entries, expected at least 5 (<unk>, _, ，, 。, ？ ...)");
}

VadConfig load_vad_config(const std::string& path) {
  YAML::Node root = load_yaml(path);
  YAML::Node fe = section(root, path, "frontend_conf");
  YAML::Node mc = section(root, path, "model_conf");
  VadConfig c;
  read_fbank(fe, path, true, c.fbank);
  if (auto v = opt<float>(fe, path, "frontend_conf", "dither", "a number")) c.dither = *v;
  // FunASR aborts when these are missing; we fall back to its compiled-in constants.
  if (auto v = opt<int>(mc, path, "model_conf", "max_end_silence_time", "an integer (ms)")) c.max_end_silence_time = *v;
  if (auto v = opt<int>(mc, path, "model_conf", "max_single_segment_time", "an integer (ms)"))
    c.max_single_segment_time = *v;
  if (auto v = opt<float>(mc, path, "model_conf", "speech_noise_thres", "a number")) c.speech_noise_thres = *v;
  validated(path, c);
  return c;
}

AsrFrontendConfig load_asr_frontend_config(const std::string& path) {
  YAML::Node root = load_yaml(path);
  YAML::Node fe = section(root, path, "frontend_conf");
  AsrFrontendConfig c;
  read_fbank(fe, path, false, c.fbank);
  if (auto v = opt<int>(fe, path, "frontend_conf", "lfr_m", "an integer")) c.lfr_m = *v;
  if (auto v = opt<int>(fe, path, "frontend_conf", "lfr_n", "an integer")) c.lfr_n = *v;
  validated(path, c);
  return c;
}

OnlineAsrConfig load_online_asr_config(const std::string& path) {
  YAML::Node root = load_yaml(path);
  YAML::Node fe = section(root, path, "frontend_conf");
  YAML::Node enc = section(root, path, "encoder_conf");
  YAML::Node dec = section(root, path, "decoder_conf");
  YAML::Node pred = section(root, path, "predictor_conf");
  OnlineAsrConfig c;
  read_fbank(fe, path, true, c.frontend.fbank);
  c.frontend.lfr_m = req<int>(fe, path, "frontend_conf", "lfr_m", "an integer");
  c.frontend.lfr_n = req<int>(fe, path, "frontend_conf", "lfr_n", "an integer");
  c.encoder_size = req<int>(enc, path, "encoder_conf", "output_size", "an integer");
  c.fsmn_layers = req<int>(dec, path, "decoder_conf", "num_blocks", "an integer");
  c.fsmn_lorder = req<int>(dec, path, "decoder_conf", "kernel_size", "an integer") - 1;
  c.cif_threshold = req<float>(pred, path, "predictor_conf", "threshold", "a number");
  c.tail_alphas = req<float>(pred, path, "predictor_conf", "tail_threshold", "a number");
  validated(path, c);
  return c;
}

PuncConfig load_punc_config(const std::string& path) {
  YAML::Node root = load_yaml(path);
  YAML::Node mc = section(root, path, "model_conf");
  PuncConfig c;
  if (!mc.IsDefined() || mc.IsNull() || !mc["punc_list"].IsDefined())
    throw Error(path + ": missing model_conf.punc_list (expected a list of punctuation strings)");
  YAML::Node list = mc["punc_list"];
  if (!list.IsSequence()) throw Error(path + ": model_conf.punc_list: expected a list of strings");
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (!list[i].IsScalar())
      throw Error(path + ": model_conf.punc_list[" + std::to_string(i) + "]: expected a string");
    c.punc_list.push_back(list[i].as<std::string>());
  }
  if (root["seg_jieba"].IsDefined()) {
    try {
      c.seg_jieba = root["seg_jieba"].as<bool>();
    } catch (const YAML::Exception&) {
      throw Error(path + ": seg_jieba: expected true or false");
    }
  }
  validated(path, c);
  return c;
}

}  // namespace paraserve
