// The engine's contents (pipeline/engine.h declares it opaque): the ONNX Runtime, every shared
// model and the shared, immutable front ends. Read-only after load_engine(); shared by all
// sessions and threads.
#pragma once
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "pipeline/punc_model_runner.h"
#include "decode/punctuator.h"
#include "frontend/cmvn.h"
#include "frontend/fbank.h"
#include "models/config.h"
#include "models/ort_runtime.h"
#include "models/paraformer_offline.h"
#include "models/paraformer_online.h"
#include "models/punc_model.h"
#include "models/sensevoice.h"
#include "models/vad_model.h"
#include "models/vocab.h"
#include "common/scratch_pool.h"
#include "lm/bias_lm.h"
#include "lm/hotwords.h"
#include "lm/lm_model.h"
#include "pipeline/engine.h"
#include "pipeline/offline_asr.h"
#include "pipeline/online_asr_stream.h"
#include "text/itn.h"

namespace paraserve {

// Front end + vocabulary used by the offline (second-pass) model. FunASR takes them from
// the ONLINE dir (funasr-compat.md §3.1, §7.6); offline-only engines use the offline dir's.
struct OfflineFrontEnd {
  std::string source_dir;
  AsrFrontendConfig config;
  Cmvn cmvn;
  std::shared_ptr<const Vocab> vocab;
  std::unique_ptr<FbankComputer> fbank;
};

struct Engine {
  EngineConfig config;
  std::unique_ptr<OrtRuntime> runtime;

  std::shared_ptr<const VadModel> vad;
  std::shared_ptr<const FbankComputer> vad_fbank;

  std::shared_ptr<const OnlineParaformerModel> online;
  std::unique_ptr<FbankComputer> online_fbank;

  // The offline (second-pass) model: an offline Paraformer, or SenseVoiceSmall when the
  // --model-dir path contains "SenseVoiceSmall" (FunASR's rule); at most one is set.
  std::shared_ptr<const OfflineParaformerModel> offline;
  std::shared_ptr<const SenseVoiceModel> sensevoice;
  OfflineFrontEnd offline_front;  // valid when has_offline()
  // Segment-sized buffers of the offline pass, borrowed per segment by whichever thread runs
  // it (so at most one per decoder thread is in use); thread-safe, hence usable through the
  // otherwise read-only engine.
  std::unique_ptr<ScratchPool<OfflineScratch>> offline_scratch;
  // The streaming decoder's output buffers, borrowed per decoder call (OnlineAsrStream).
  std::unique_ptr<OnlineAsrStream::DecodeScratchPool> online_decode_scratch;

  std::shared_ptr<const PuncModel> punc;
  std::unique_ptr<PuncModelRunner> punc_runner;
  std::unique_ptr<Punctuator> punctuator;

  // Inverse text normalisation (--itn-dir): applied where FunASR applies it (2pass-offline and
  // offline text when the utterance's `itn` is true; every file in `transcribe`). Null: none.
  std::shared_ptr<const InverseTextNormalizer> itn;
  // n-gram LM (optional) and hotwords (funasr-compat.md §3.7).
  std::shared_ptr<const lm::LmModel> lm;
  lm::SearchOptions lm_search;
  lm::HotwordMap server_hotwords;
  std::shared_ptr<const lm::BiasLm> server_bias;  // server hotwords alone (nullptr: none or no LM)
  // The bias graph for one utterance: the client's `hotwords` string merged with the server
  // hotwords (client wins). nullptr without an LM or when no hotword is usable; rejected
  // entries are appended to `problems`.
  std::shared_ptr<const lm::BiasLm> hotword_bias(const std::string& client, std::vector<std::string>& problems) const;

  std::vector<std::string> descriptions;
  std::vector<std::string> warnings;  // load_warnings()

  // Throw paraserve::Error naming what is missing for a use ("streaming", "transcribe").
  void require_streaming() const;
  void require_offline(const std::string& use) const;
  bool has_offline() const { return offline || sensevoice; }
  // Token timestamps from the offline pass (only the Paraformer timestamp variant has them).
  bool offline_has_timestamps() const { return offline && offline->has_timestamps(); }
};

}  // namespace paraserve
