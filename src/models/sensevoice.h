// SenseVoiceSmall as the offline (second-pass) model, as FunASR's C++ runtime uses it
// (runtime/onnxruntime/src/sensevoice-small.cpp): a CTC model with 4 inputs
// (speech [1,T,560] float32, speech_lengths [1] int32, language [1] int32, textnorm [1] int32)
// and 2 outputs (ctc_logits [1,T+4,V] float32, encoder_out_lens [1] int32). The 4 extra rows
// come first: the language, emotion, event and text-normalisation tags.
//
// Files of its directory: model.onnx / model_quant.onnx and tokens.json (always read from
// this directory); config.yaml and am.mvn (front end: read from here only when there is no
// online model; FunASR's 2pass server takes them from the online directory).
// Shared, immutable after load; run() is const and thread-safe.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "models/contract.h"
#include "models/model_info.h"
#include "models/ort_runtime.h"
#include "models/paraformer_offline.h"  // OfflineOutput (shared scratch with the Paraformer path)
#include "models/vocab.h"

namespace paraserve {

// FunASR picks SenseVoiceSmall when the model directory's path contains this string
// (tpass-stream.cpp / offline-stream.cpp: model_path.find(MODEL_SVS)).
inline constexpr std::string_view kSenseVoiceDirMarker = "SenseVoiceSmall";
bool is_sensevoice_dir(std::string_view dir);

// The `language` input for a client's svs_lang: auto 0, zh 3, en 4, yue 7, ja 11, ko 12,
// nospeech 13; anything else is auto (0), as FunASR's lid_map lookup.
int sensevoice_language_id(std::string_view svs_lang);
// The `textnorm` input: 14 (withitn) when svs_itn, else 15 (woitn).
int sensevoice_textnorm_id(bool svs_itn);

ModelContract sensevoice_contract(int vocab = -1);

// CTC greedy search over the first `rows` rows of logits (rows x vocab): argmax per row,
// repeats collapsed, blank (id 0) removed. ids is cleared first.
void sensevoice_ctc_ids(const float* logits, int rows, int vocab, std::vector<int>& ids);

// FunASR's CTCSearch text rule. ids[0..3] are the language, emotion, event and ITN tags
// (taken only when there are at least 3 ids; a missing ITN tag reads as none); every id from
// 4 on is a text token: a token containing "▁" becomes " " + the token without that "▁"
// (FunASR drops the first 3 bytes: the same for real vocabularies, whose "▁" is at the start),
// others are appended as they are. With <|withitn|>, "。" (language <|zh|>) or "."
// is appended. Result: language + emotion + event tags, one space, the text. The ITN tag
// itself is not kept. Example: "<|zh|><|NEUTRAL|><|Speech|> 你好。". Token ids must be < tokens.size().
void sensevoice_text(const std::vector<int>& ids, const std::vector<std::string>& tokens, std::string& out);

class SenseVoiceModel {
 public:
  static constexpr int kFeatDim = 560;  // LFR 7 x 80 mels
  // Loads dir/model[_quant].onnx (FunASR's quantize rule) and dir/tokens.json; checks the
  // contract (one-line error naming the file) and that the logits' vocabulary dim, when
  // fixed, equals the token count.
  static std::shared_ptr<const SenseVoiceModel> load(const std::string& dir, const std::string& quant_flag,
                                                     OrtRuntime& runtime);

  const OnnxFileInfo& info() const { return info_; }
  const Vocab& vocab() const { return vocab_; }

  // feats: T x 560 (LFR + CMVN). Fills out.logits (num_rows x vocab raw CTC logits; num_rows
  // = T + 4 for the real export), num_rows and vocab; the other fields are cleared. Vectors
  // are resized; their capacity is reused.
  void run(const float* feats, int T, int language, int textnorm, OfflineOutput& out) const;

  SenseVoiceModel(const SenseVoiceModel&) = delete;
  SenseVoiceModel& operator=(const SenseVoiceModel&) = delete;
  ~SenseVoiceModel();

 private:
  SenseVoiceModel() = default;
  const OrtRuntime* runtime_ = nullptr;
  std::unique_ptr<Ort::Session> session_;
  OnnxFileInfo info_;
  Vocab vocab_;
  std::vector<std::string> in_names_, out_names_;
  std::vector<const char*> in_ptrs_, out_ptrs_;
};

}  // namespace paraserve
