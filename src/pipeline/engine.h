// The shared, read-only side of the engine: every loaded model, shared by all sessions
// and threads. Loaded once from FunASR model directories.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "models/ort_runtime.h"

namespace paraserve {

struct EngineConfig {
  std::string vad_dir;            // FSMN-VAD (required for streaming)
  std::string online_model_dir;   // streaming Paraformer: encoder, decoder, am.mvn, config.yaml, tokens.json
  std::string offline_model_dir;  // offline Paraformer (plain or timestamp variant)
  std::string punc_dir;           // CT-Transformer punctuation (vad_realtime or offline)
  std::string itn_dir;            // ITN FSTs (zh_itn_tagger.fst, zh_itn_verbalizer.fst); empty: no ITN
  // FunASR's quantize flags: the quantized file is loaded only when the string is exactly "true".
  std::string quantize = "true";
  std::string vad_quant = "true";
  std::string punc_quant = "true";
  OrtOptions ort;                 // ONNX Runtime session options (threads, arena, ...)
  // Offline-pass scratch sets kept for reuse while idle (one per concurrent offline pass is
  // in use; each holds the buffers of the longest segment it served, <= ~12 MB for 60 s).
  int offline_scratch_idle = 8;
  // n-gram LM in the offline pass (FunASR --lm-dir: TLG.fst, config.yaml, lexicon.txt); empty
  // = greedy search. Beams and scale as FunASR's --global-beam/--lattice-beam/--am-scale.
  std::string lm_dir;
  float global_beam = 3.0f;
  float lattice_beam = 3.0f;
  float am_scale = 10.0f;
  // Server hotwords (FunASR --hotword: "phrase weight" lines) and their per-token bias
  // (--fst-inc-wts); they bias the LM search, so they have an effect only with lm_dir.
  std::string hotword_file;
  int fst_inc_wts = 20;
  // Streaming-decoder output buffers (logits + new caches, ~0.4 MB for a 10-token chunk) kept
  // for reuse while idle; one per concurrent decoder call is in use.
  int online_scratch_idle = 8;
};

struct Engine;  // defined in pipeline/engine_impl.h; holds the model objects

// Loads every configured model; throws paraserve::Error naming the directory/file on failure.
std::shared_ptr<const Engine> load_engine(const EngineConfig& config);
// One line per loaded model ("vad: /path/model_quant.onnx (quantized)") for logs and /metrics.
std::vector<std::string> describe_engine(const Engine& engine);
// Problems found while loading that did not stop it (invalid hotword lines, a missing hotword
// file), one line each, for the caller to log.
std::vector<std::string> load_warnings(const Engine& engine);

}  // namespace paraserve
