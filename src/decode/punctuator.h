// CT-Transformer punctuation algorithms (funasr-compat.md §3.5): FunASR's
// CTTransformerOnline::AddPunc (realtime, with the cross-sentence word cache; used by the
// 2pass server) and CTTransformer::AddPunc (offline). The model itself is behind PuncRunner.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace paraserve {

// Runs the punctuation model on one window. `mask` is an L x L matrix (realtime models: fed
// as both vad_masks and sub_masks) or nullptr (offline variant). `logits` receives
// L x num_classes() values.
struct PuncRunner {
  virtual ~PuncRunner() = default;
  virtual void run(std::span<const int32_t> ids, const float* mask,
                   std::vector<float>& logits) const = 0;
  virtual int num_classes() const = 0;
};

// FunASR's CTokenizer::Tokenize without jieba: split on ' '; within a piece, runs of ASCII
// bytes are one token and non-ASCII runs are split into UTF-8 characters (by the lead
// byte's count of leading 1 bits). `words` and `ids` are appended to. ASCII tokens are
// looked up lower-cased; unknown tokens get the `<unk>` id (0 if the vocabulary has none).
class PuncTokenizer {
 public:
  explicit PuncTokenizer(std::span<const std::string> vocab_tokens);
  void tokenize(std::string_view text, std::vector<std::string>& words,
                std::vector<int32_t>& ids) const;
  int lookup(std::string_view word) const;  // lower-cases ASCII letters first

 private:
  std::unordered_map<std::string, int32_t> ids_;
  int32_t unk_id_ = 0;
};

// FunASR's VadMask: L x L ones; if 0 < cache_len < L, rows [0, cache_len-1) x columns
// [cache_len, L) are 0. `mask` is resized.
void punc_vad_mask(int L, int cache_len, std::vector<float>& mask);

// FunASR's com-define.h indices into punc_list (the model's output classes), shared by the
// realtime punctuator and the offline window stream.
namespace punc_index {
constexpr int kNotPunc = 1;
constexpr int kComma = 2;
constexpr int kPeriod = 3;
constexpr int kQuestion = 4;
constexpr int kDun = 5;
}  // namespace punc_index

class Punctuator {
 public:
  static constexpr int kTokenLen = 20;                // TOKEN_LEN (window size)
  static constexpr int kCachePopTriggerLimit = 200;   // CACHE_POP_TRIGGER_LIMIT
  // Most words punctuate_realtime() keeps in its cache. FunASR ends a window of more than
  // CACHE_POP_TRIGGER_LIMIT words at its last comma, but a run without any sentence end or
  // comma is cached whole there, so memory and work per call grow with the run. Here the
  // cache never exceeds this many words (the same limit); with a sentence end at least every
  // 200 words, as in normal speech, the cache never reaches it and nothing changes.
  static constexpr size_t kMaxCacheWords = kCachePopTriggerLimit;
  // punc_list: model_conf.punc_list (FunASR: <unk>, _, ，, 。, ？, 、). Needs >= 6 entries and
  // runner.num_classes() in [2, punc_list.size() + 1]; throws paraserve::Error otherwise.
  // `runner` must outlive the Punctuator. Thread-safe (const methods, no shared scratch).
  Punctuator(const PuncRunner& runner, std::span<const std::string> vocab_tokens,
             std::vector<std::string> punc_list);

  // CTTransformerOnline::AddPunc(text, cache): the text is punctuated after the cached words
  // of the previous sentence (which are not output again, except the punctuation of the
  // last one); `cache` becomes the words after the last 。/？ (at most kMaxCacheWords: a
  // longer run is cut after its last comma that leaves at most that many words, or else
  // loses its oldest words); one trailing punctuation is removed from the result.
  std::string punctuate_realtime(std::string_view text, std::vector<std::string>& cache) const;

  // CTTransformer::AddPunc(text, "zh-cn"): always ends in 。 or ？ (a final ，/、 becomes 。).
  std::string punctuate_offline(std::string_view text) const;

  const PuncTokenizer& tokenizer() const { return tokenizer_; }
  // One offline window (no mask): the class of each token, as punctuate_offline() gets it.
  void classify_offline(std::span<const int32_t> ids, std::vector<int>& out, std::vector<float>& logits) const {
    std::vector<float> no_mask;
    infer(ids, 0, false, out, logits, no_mask);
  }
  const std::string& mark(int id) const { return punc(id); }

 private:
  // Words kept from all windows, their punctuation class, and where each kept window starts.
  struct Sentences {
    std::vector<std::string> words;
    std::vector<int> puncs;
    std::vector<size_t> starts;
  };
  // Tokenize, run the 20-token windows with carried leftovers, cut after the last 。/？.
  void run_windows(std::string_view text, int cache_len, bool with_mask, Sentences& out) const;
  // Argmax over classes [0, num_classes-1) of each row (FunASR never yields the last, 、).
  void infer(std::span<const int32_t> ids, int cache_len, bool with_mask, std::vector<int>& out,
             std::vector<float>& logits, std::vector<float>& mask) const;
  const std::string& punc(int id) const { return punc_list_[static_cast<size_t>(id)]; }

  const PuncRunner& runner_;
  PuncTokenizer tokenizer_;
  std::vector<std::string> punc_list_;
};

// The 2pass rule of FunTpassInferBuffer (funasrruntime.cpp:604-607): after punctuating an
// offline sentence with the realtime punctuator, 。 is appended when the input has finished.
inline void finish_tpass_sentence(std::string& punctuated, bool input_finished) {
  if (input_finished) punctuated += "。";
}

}  // namespace paraserve
