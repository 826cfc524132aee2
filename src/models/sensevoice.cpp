#include "models/sensevoice.h"

#include <algorithm>

#include "common/error.h"
#include "models/model_dir.h"
#include "models/onnx_util.h"

namespace paraserve {

bool is_sensevoice_dir(std::string_view dir) { return dir.find(kSenseVoiceDirMarker) != std::string_view::npos; }

int sensevoice_language_id(std::string_view lang) {
  struct Entry {
    std::string_view name;
    int id;
  };
  static constexpr Entry kLid[] = {{"auto", 0}, {"zh", 3}, {"en", 4}, {"yue", 7}, {"ja", 11}, {"ko", 12}, {"nospeech", 13}};
  for (const Entry& e : kLid)
    if (e.name == lang) return e.id;
  return 0;
}

int sensevoice_textnorm_id(bool svs_itn) { return svs_itn ? 14 : 15; }

ModelContract sensevoice_contract(int vocab) {
  constexpr auto F32 = ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
  constexpr auto I32 = ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32;
  ModelContract c{"sensevoice", {}, {}};
  c.inputs = {TensorSpec{"speech", F32, {1, -1, SenseVoiceModel::kFeatDim}}, TensorSpec{"speech_lengths", I32, {1}},
              TensorSpec{"language", I32, {1}}, TensorSpec{"textnorm", I32, {1}}};
  // encoder_out_lens is never read (FunASR decodes T rows); int64 is accepted too (contract.cpp).
  c.outputs = {TensorSpec{"ctc_logits", F32, {1, -1, vocab < 0 ? -1 : vocab}}, TensorSpec{"encoder_out_lens", I32, {1}}};
  return c;
}

void sensevoice_ctc_ids(const float* logits, int rows, int vocab, std::vector<int>& ids) {
  ids.clear();
  int prev = -1;
  for (int t = 0; t < rows; ++t) {
    const float* row = logits + static_cast<std::size_t>(t) * static_cast<std::size_t>(vocab);
    const int y = static_cast<int>(std::max_element(row, row + vocab) - row);  // first maximum
    if (y != 0 && y != prev) ids.push_back(y);
    prev = y;
  }
}

void sensevoice_text(const std::vector<int>& ids, const std::vector<std::string>& tokens, std::string& out) {
  out.clear();
  static const std::string kSpacePiece = "\xE2\x96\x81";  // U+2581, sentencepiece's word start
  std::string_view lang, emo, event, itn;
  // FunASR reads ids[3] whenever there are >= 3 ids (past the end with exactly 3); here a
  // missing ITN tag is read as no tag.
  if (ids.size() >= 3) {
    lang = tokens[static_cast<std::size_t>(ids[0])];
    emo = tokens[static_cast<std::size_t>(ids[1])];
    event = tokens[static_cast<std::size_t>(ids[2])];
    if (ids.size() >= 4) itn = tokens[static_cast<std::size_t>(ids[3])];
  }
  out.append(lang).append(emo).append(event).append(" ");
  for (std::size_t i = 4; i < ids.size(); ++i) {
    const std::string& word = tokens[static_cast<std::size_t>(ids[i])];
    if (const std::size_t at = word.find(kSpacePiece); at != std::string::npos) {
      // FunASR drops the token's first 3 bytes, which is the "▁" in every real vocabulary;
      // dropping the "▁" itself gives the same text and never splits a UTF-8 sequence.
      out += ' ';
      out.append(word, 0, at).append(word, at + kSpacePiece.size(), std::string::npos);
    } else {
      out += word;
    }
  }
  if (itn == "<|withitn|>") out += lang == "<|zh|>" ? "\xE3\x80\x82" : ".";  // 。 or .
}

SenseVoiceModel::~SenseVoiceModel() = default;

std::shared_ptr<const SenseVoiceModel> SenseVoiceModel::load(const std::string& dir, const std::string& quant_flag,
                                                             OrtRuntime& runtime) {
  const std::string path = resolve_onnx(dir, "model", quant_flag);
  Vocab vocab = Vocab::load_json(require_file(dir, "tokens.json", "vocabulary of the SenseVoiceSmall model"));
  auto opened = detail::open_model(runtime, path, quantize_selected(quant_flag));
  opened.check(sensevoice_contract());
  const int64_t classes = opened.info.io.outputs[0].shape[2];
  if (classes >= 0 && classes != vocab.size())
    throw Error(path + ": ctc_logits has " + std::to_string(classes) + " classes but " + join_path(dir, "tokens.json") +
                " has " + std::to_string(vocab.size()) + " tokens");

  std::shared_ptr<SenseVoiceModel> m(new SenseVoiceModel());
  m->runtime_ = &runtime;
  m->session_ = std::move(opened.session);
  m->info_ = std::move(opened.info);
  m->vocab_ = std::move(vocab);
  detail::set_names(m->info_.io.inputs, m->in_names_, m->in_ptrs_);
  detail::set_names(m->info_.io.outputs, m->out_names_, m->out_ptrs_);
  return m;
}

void SenseVoiceModel::run(const float* feats, int T, int language, int textnorm, OfflineOutput& out) const {
  if (T < 1) throw Error(info_.path + ": run with " + std::to_string(T) + " frames, expected >= 1");
  const int32_t len = T, lid = language, tn = textnorm;
  const int64_t feat_shape[3] = {1, T, kFeatDim};
  const int64_t one[1] = {1};
  auto in = detail::empty_values<4>();
  in[0] = detail::wrap(*runtime_, feats, static_cast<std::size_t>(T) * kFeatDim, feat_shape, 3);
  in[1] = detail::wrap(*runtime_, &len, 1, one, 1);
  in[2] = detail::wrap(*runtime_, &lid, 1, one, 1);
  in[3] = detail::wrap(*runtime_, &tn, 1, one, 1);
  std::vector<Ort::Value> res;
  try {
    // Only ctc_logits is fetched: the runtime never reads encoder_out_lens.
    res = session_->Run(Ort::RunOptions{nullptr}, in_ptrs_.data(), in.data(), in.size(), out_ptrs_.data(), 1);
  } catch (const Ort::Exception& e) {
    detail::rethrow_run_error(info_.path, e);
  }
  const auto shape = res[0].GetTensorTypeAndShapeInfo().GetShape();
  if (shape.size() != 3 || shape[0] != 1)
    throw Error(info_.path + ": ctc_logits output has shape " + shape_string(shape) + ", expected [1,N,V]");
  if (shape[2] != vocab_.size())
    throw Error(info_.path + ": ctc_logits has " + std::to_string(shape[2]) + " classes but tokens.json has " +
                std::to_string(vocab_.size()) + " tokens");
  out.num_rows = static_cast<int>(shape[1]);
  out.vocab = static_cast<int>(shape[2]);
  const float* p = res[0].GetTensorData<float>();
  out.logits.assign(p, p + static_cast<std::size_t>(out.num_rows) * static_cast<std::size_t>(out.vocab));
  out.token_num = 0;
  out.us_alphas.clear();
  out.us_cif_peak.clear();
}

}  // namespace paraserve
