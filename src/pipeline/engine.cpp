#include "pipeline/engine.h"

#include <chrono>
#include <filesystem>

#include "common/error.h"
#include "models/model_dir.h"
#include "pipeline/engine_impl.h"

namespace paraserve {

namespace {

std::string describe_file(const std::string& what, const OnnxFileInfo& info) {
  return what + ": " + info.path + (info.quantized ? " (quantized)" : " (fp32)");
}

void require_dir(const std::string& dir, const std::string& flag) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw Error(flag + " " + dir + ": not a directory (expected a FunASR model directory)");
}

// The n-gram LM and the server hotwords (FunASR: --lm-dir, --hotword, --fst-inc-wts).
void load_lm_and_hotwords(Engine& engine) {
  const EngineConfig& config = engine.config;
  engine.lm_search.beam = config.global_beam;
  engine.lm_search.lattice_beam = config.lattice_beam;
  engine.lm_search.am_scale = config.am_scale;
  engine.lm_search.validate();
  if (!config.lm_dir.empty() && engine.sensevoice) {
    // FunASR's server clears the LM for a SenseVoiceSmall offline model.
    engine.warnings.push_back("--lm-dir: not used with the SenseVoiceSmall offline model (as FunASR)");
  } else if (!config.lm_dir.empty()) {
    require_dir(config.lm_dir, "--lm-dir");
    if (!engine.offline) throw Error("--lm-dir " + config.lm_dir + " needs the offline Paraformer (--model-dir)");
    engine.lm = lm::LmModel::load(config.lm_dir);
    engine.descriptions.push_back(engine.lm->describe());
  }
  if (!config.hotword_file.empty()) {
    std::vector<std::string> problems;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(config.hotword_file, ec)) {
      // FunASR logs this and runs without server hotwords.
      problems.push_back("--hotword: cannot open '" + config.hotword_file + "'; no server hotwords");
    } else {
      engine.server_hotwords = lm::load_hotword_file(config.hotword_file, problems);
    }
    if (!engine.lm) {
      problems.push_back("--hotword: hotwords have no effect without --lm-dir (FunASR's FST hotwords bias the LM search)");
    } else {
      engine.server_bias = lm::compile_hotwords(engine.server_hotwords, *engine.lm, engine.offline_front.vocab->tokens(),
                                                static_cast<float>(config.fst_inc_wts), problems);
    }
    engine.warnings.insert(engine.warnings.end(), problems.begin(), problems.end());
    engine.descriptions.push_back("hotwords: " + std::to_string(engine.server_hotwords.size()) + " from " +
                                  config.hotword_file +
                                  (engine.lm ? " (FST bias, --fst-inc-wts " + std::to_string(config.fst_inc_wts) + ")"
                                             : " (no effect without --lm-dir)"));
  }
}

}  // namespace

void Engine::require_streaming() const {
  if (!vad) throw Error("streaming needs a VAD model: set --vad-dir");
  if (!online) throw Error("streaming needs the online (streaming) Paraformer: set --online-model-dir");
  if (!punc) throw Error("streaming needs a punctuation model: set --punc-dir");
}

void Engine::require_offline(const std::string& use) const {
  if (!has_offline()) throw Error(use + " needs the offline Paraformer (or SenseVoiceSmall): set --model-dir");
}

std::shared_ptr<const Engine> load_engine(const EngineConfig& config) {
  if (config.vad_dir.empty() && config.online_model_dir.empty() && config.offline_model_dir.empty() &&
      config.punc_dir.empty())
    throw Error("no model directory given (need at least --model-dir or --online-model-dir)");
  auto engine = std::make_shared<Engine>();
  engine->config = config;
  if (config.offline_scratch_idle < 0) throw Error("offline scratch pool size must be >= 0");
  if (config.online_scratch_idle < 0) throw Error("online scratch pool size must be >= 0");
  engine->runtime = std::make_unique<OrtRuntime>(config.ort);
  engine->offline_scratch =
      std::make_unique<ScratchPool<OfflineScratch>>(static_cast<std::size_t>(config.offline_scratch_idle));
  engine->online_decode_scratch =
      std::make_unique<OnlineAsrStream::DecodeScratchPool>(static_cast<std::size_t>(config.online_scratch_idle));
  OrtRuntime& rt = *engine->runtime;

  if (!config.vad_dir.empty()) {
    require_dir(config.vad_dir, "--vad-dir");
    engine->vad = VadModel::load(config.vad_dir, config.vad_quant, rt);
    engine->vad_fbank = std::make_shared<const FbankComputer>(engine->vad->config().fbank);
    engine->descriptions.push_back(describe_file("vad", engine->vad->info()));
  }
  if (!config.online_model_dir.empty()) {
    require_dir(config.online_model_dir, "--online-model-dir");
    engine->online = OnlineParaformerModel::load(config.online_model_dir, config.quantize, rt);
    engine->online_fbank = std::make_unique<FbankComputer>(engine->online->config().frontend.fbank);
    engine->descriptions.push_back(describe_file("online encoder", engine->online->encoder_info()));
    engine->descriptions.push_back(describe_file("online decoder", engine->online->decoder_info()));
  }
  if (!config.offline_model_dir.empty()) {
    require_dir(config.offline_model_dir, "--model-dir");
    const bool svs = is_sensevoice_dir(config.offline_model_dir);
    if (svs) {
      engine->sensevoice = SenseVoiceModel::load(config.offline_model_dir, config.quantize, rt);
    } else {
      engine->offline = OfflineParaformerModel::load(config.offline_model_dir, config.quantize, rt);
    }
    OfflineFrontEnd& fe = engine->offline_front;
    if (engine->online) {
      // FunASR 2pass: the online dir's am.mvn, config.yaml and tokens.json serve both models.
      fe.source_dir = config.online_model_dir;
      fe.config = engine->online->config().frontend;
      fe.cmvn = engine->online->cmvn();
      fe.vocab = std::shared_ptr<const Vocab>(engine->online, &engine->online->vocab());
    } else {
      const std::string& dir = config.offline_model_dir;
      fe.source_dir = dir;
      fe.config = load_asr_frontend_config(require_file(dir, "config.yaml", "front-end options of the offline model"));
      fe.cmvn = Cmvn::load(require_file(dir, "am.mvn", "CMVN of the offline model"));
      if (!svs)
        fe.vocab = std::make_shared<const Vocab>(
            Vocab::load_json(require_file(dir, "tokens.json", "vocabulary of the offline model")));
    }
    // SenseVoiceSmall always decodes with its own tokens.json (tpass-stream.cpp: token_path is
    // the model dir's), even where the front end comes from the online dir.
    if (svs) fe.vocab = std::shared_ptr<const Vocab>(engine->sensevoice, &engine->sensevoice->vocab());
    const int lfr_dim = fe.config.lfr_m * fe.config.fbank.n_mels;
    if (lfr_dim != OfflineParaformerModel::kFeatDim)
      throw Error(fe.source_dir + "/config.yaml: lfr_m * n_mels = " + std::to_string(lfr_dim) + ", the offline model expects " +
                  std::to_string(OfflineParaformerModel::kFeatDim));
    fe.cmvn.check_dim(lfr_dim, fe.source_dir + "/am.mvn");
    fe.fbank = std::make_unique<FbankComputer>(fe.config.fbank);
    if (svs) {
      engine->descriptions.push_back(describe_file("offline (SenseVoiceSmall)", engine->sensevoice->info()) +
                                     "; front end and CMVN from " + fe.source_dir + ", tokens from " +
                                     config.offline_model_dir);
    } else {
      engine->descriptions.push_back(describe_file(engine->offline->has_timestamps() ? "offline (timestamps)" : "offline",
                                                   engine->offline->info()) +
                                     "; front end, CMVN and tokens from " + fe.source_dir);
    }
  }
  if (!config.punc_dir.empty()) {
    require_dir(config.punc_dir, "--punc-dir");
    engine->punc = PuncModel::load(config.punc_dir, config.punc_quant, rt);
    engine->punc_runner = std::make_unique<PuncModelRunner>(*engine->punc);
    engine->punctuator = std::make_unique<Punctuator>(*engine->punc_runner, engine->punc->vocab().tokens(),
                                                      engine->punc->punc_list());
    engine->descriptions.push_back(describe_file(engine->punc->realtime() ? "punc (realtime)" : "punc (offline)",
                                                 engine->punc->info()));
  }
  if (!config.itn_dir.empty()) {
    engine->itn = InverseTextNormalizer::load(config.itn_dir);
    engine->descriptions.push_back(engine->itn->description());
  }
  load_lm_and_hotwords(*engine);
  return engine;
}

std::shared_ptr<const lm::BiasLm> Engine::hotword_bias(const std::string& client,
                                                       std::vector<std::string>& problems) const {
  if (!lm || !offline) return nullptr;
  lm::HotwordMap client_map;
  if (!lm::parse_client_hotwords(client, client_map, problems)) return server_bias;
  return lm::compile_hotwords(lm::merge_hotwords(client_map, server_hotwords, problems), *lm, offline_front.vocab->tokens(),
                              static_cast<float>(config.fst_inc_wts), problems);
}

std::vector<std::string> describe_engine(const Engine& engine) { return engine.descriptions; }

std::vector<std::string> load_warnings(const Engine& engine) { return engine.warnings; }

}  // namespace paraserve
