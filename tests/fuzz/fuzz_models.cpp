// Model-directory readers (src/models/config.*, vocab.*, contract.*, src/frontend/cmvn.*):
// the files of a FunASR model dir a user might download from anywhere.
#include <cmath>
#include <memory>
#include <string_view>

#include "common/error.h"
#include "frontend/cmvn.h"
#include "fuzz_targets.h"
#include "models/config.h"
#include "models/contract.h"
#include "models/sensevoice.h"
#include "models/onnx_util.h"
#include "models/ort_runtime.h"
#include "models/vocab.h"

namespace paraserve::fuzz {

int config_yaml(const std::uint8_t* data, std::size_t size) {
  TempFile f("config.yaml", data, size);
  // Each reader validates what it returns; a returned config must pass validate() again.
  try {
    load_vad_config(f.path()).validate();
  } catch (const Error&) {
  }
  try {
    load_asr_frontend_config(f.path()).validate();
  } catch (const Error&) {
  }
  try {
    const OnlineAsrConfig c = load_online_asr_config(f.path());
    c.validate();
    // The contracts built from a config must be well-formed whatever the config says.
    const ModelContract enc = online_encoder_contract(c), dec = online_decoder_contract(c, 8);
    fuzz_check(dec.inputs.size() == 4 + static_cast<std::size_t>(c.fsmn_layers), "decoder contract cache count");
    for (const auto& t : enc.outputs) (void)describe_tensor(t);
  } catch (const Error&) {
  }
  try {
    const PuncConfig c = load_punc_config(f.path());
    c.validate();
  } catch (const Error&) {
  }
  return 0;
}

int am_mvn(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const Cmvn c = Cmvn::parse(text, "am.mvn");
    fuzz_check(!c.shift.empty() && c.shift.size() == c.scale.size(), "parsed CMVN vectors disagree");
    // Applying it to frames of its own dimension (and a wider one) stays in bounds.
    const int dim = static_cast<int>(std::min<std::size_t>(c.size(), 4096));
    if (static_cast<std::size_t>(dim) == c.size()) {
      std::vector<float> x(static_cast<std::size_t>(dim + 3) * 2, 1.0f);
      c.check_dim(dim + 3, "fuzz");
      c.apply(x.data(), 2, dim + 3);
      c.apply(x.data(), 2, dim);
    }
  } catch (const Error&) {
  }
  return 0;
}

int tokens_json(const std::uint8_t* data, std::size_t size) {
  TempFile f("tokens.json", data, size);
  try {
    const Vocab v = Vocab::load_json(f.path());
    fuzz_check(v.size() > 0, "an empty vocabulary was accepted");
    for (int i = 0; i < v.size(); ++i) {
      const std::string& t = v.token(i);
      const int id = v.id(t);
      fuzz_check(id >= i && v.token(id) == t, "id(token(i)) does not map back to the token");
    }
    bool threw = false;
    try {
      (void)v.token(v.size());
    } catch (const Error&) {
      threw = true;
    }
    fuzz_check(threw, "token(size()) did not throw");
  } catch (const Error&) {
  }
  return 0;
}

int onnx_contract(const std::uint8_t* data, std::size_t size) {
  // One runtime per process with the server's settings (sessions are opened from a file,
  // as the model classes do). Graph optimisation off: the contract is read from the
  // model's declared I/O, and optimising random graphs only costs time.
  static const auto rt = [] {
    OrtOptions o;
    o.graph_opt_level = 0;
    return std::make_unique<OrtRuntime>(o);
  }();
  TempFile f("model.onnx", data, size);
  try {
    detail::OpenedModel m = detail::open_model(*rt, f.path(), false);
    OnlineAsrConfig cfg;
    cfg.encoder_size = 8;
    cfg.fsmn_layers = 2;
    cfg.fsmn_lorder = 2;
    const ModelContract contracts[] = {
        vad_contract(),           online_encoder_contract(cfg),     online_decoder_contract(cfg, 6),
        offline_contract(false),  offline_contract(true, 6),        offline_hotword_contract(false),
        offline_hotword_contract(true), hotword_embedder_contract(), punc_contract(false),
        punc_contract(true),      sensevoice_contract(),            sensevoice_contract(6)};
    for (const auto& c : contracts) {
      const std::string mismatch = contract_mismatch(m.info.io, c);
      fuzz_check(mismatch.find('\n') == std::string::npos, "a contract mismatch message spans several lines");
      try {
        m.check(c);
        fuzz_check(mismatch.empty(), "check() accepted a model contract_mismatch() rejects");
      } catch (const Error&) {
        fuzz_check(!mismatch.empty(), "check() rejected a model contract_mismatch() accepts");
      }
    }
    (void)classify_offline(m.info.io);
    for (const auto* list : {&m.info.io.inputs, &m.info.io.outputs})
      for (const auto& t : *list)
        fuzz_check(describe_tensor(t).find('\n') == std::string::npos, "a tensor description spans several lines");
  } catch (const Error&) {
  }
  return 0;
}

}  // namespace paraserve::fuzz
