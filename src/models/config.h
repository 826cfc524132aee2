// The parts of a FunASR config.yaml that the C++ runtime reads (funasr-compat.md §3.2-3.5),
// as small validated structs. Errors name the file and the key.
#pragma once
#include <string>
#include <vector>

#include "frontend/fbank.h"

namespace paraserve {

// Fbank + LFR options of an ASR model dir (frontend_conf). Keys FunASR's offline loader
// does not read fall back to its compiled-in defaults (hamming, 80 mels, 25/10 ms, LFR 7/6).
struct AsrFrontendConfig {
  FbankOptions fbank;
  int lfr_m = 7;
  int lfr_n = 6;
  void validate() const;
};

// VAD dir: frontend_conf + the four values FunASR reads (§3.2.5). LFR is hard-coded 5/1.
// The rest of the E2E VAD options are compiled-in constants owned by the VAD state machine.
struct VadConfig {
  FbankOptions fbank;                  // fs, n_mels, window, frame_shift, frame_length
  float dither = 0.0f;                 // read for completeness; the runtime never dithers
  int lfr_m = 5;
  int lfr_n = 1;
  int max_end_silence_time = 800;      // ms, model_conf (C++ default 800)
  int max_single_segment_time = 15000; // ms, model_conf (C++ default 15000; template 60000)
  float speech_noise_thres = 0.9f;     // model_conf (C++ default 0.9; template 0.6)
  void validate() const;
};

// Online (streaming) Paraformer dir, §3.3.1. Its frontend/CMVN also serve the offline model.
struct OnlineAsrConfig {
  AsrFrontendConfig frontend;
  int encoder_size = 512;     // encoder_conf.output_size (also the decoder FSMN cache dim)
  int fsmn_layers = 16;       // decoder_conf.num_blocks (= number of decoder caches)
  int fsmn_lorder = 10;       // decoder_conf.kernel_size - 1
  float cif_threshold = 1.0f; // predictor_conf.threshold
  float tail_alphas = 0.45f;  // predictor_conf.tail_threshold
  void validate() const;
};

// Punctuation dir (§3.5.1): model_conf.punc_list (index = class id) and seg_jieba.
struct PuncConfig {
  std::vector<std::string> punc_list;
  bool seg_jieba = false;
  void validate() const;
};

// Each throws paraserve::Error "<path>: <key>: <what was expected>".
VadConfig load_vad_config(const std::string& config_yaml);
AsrFrontendConfig load_asr_frontend_config(const std::string& config_yaml);
OnlineAsrConfig load_online_asr_config(const std::string& config_yaml);
PuncConfig load_punc_config(const std::string& config_yaml);

}  // namespace paraserve
