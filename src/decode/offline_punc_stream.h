// Offline punctuation (FunASR's CTTransformer::AddPunc, Punctuator::punctuate_offline) over a
// text that arrives in pieces (the VAD segments of a long file), with output as soon as it is
// final and memory bounded by the window carry-over, not by the text length.
//
// AddPunc tokenizes the whole text and cuts the token list into windows of 20 at fixed
// positions; each window except the last keeps its words up to its last 。/？ and carries the
// rest into the next one. So a window can run once a token after it exists, and only the last
// window needs the end of the text. The tokenizer joins runs of ASCII across the pieces
// ("hello" + "world" is one token, as in FunASR's concatenated text), so a trailing ASCII run
// is held back until the next piece shows where it ends.
//
// Output equals punctuate_offline(concatenation of the pieces) with one exception for
// degenerate models: FunASR's carry grows without bound while a model emits neither 。/？ nor
// (past 200 words) ， ; here a window whose carry would exceed kMaxCarry words is kept whole.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "decode/punctuator.h"

namespace paraserve {

class OfflinePuncStream {
 public:
  static constexpr std::size_t kMaxCarry = 1000;

  explicit OfflinePuncStream(const Punctuator& punc) : punc_(punc) {}

  // Appends `text` (raw, unpunctuated) and writes the punctuated text that became final to
  // `out` (appended; one kept window per call at most a few). 
  void add(std::string_view text, std::string& out);
  // End of text: the rest, ending in 。 or ？ (nothing if there were no tokens).
  void finish(std::string& out);
  std::size_t state_bytes() const;

 private:
  void tokenize_safe(bool all);
  void run_window(bool last, std::string& out);

  const Punctuator& punc_;
  std::string held_;                  // raw text not tokenized yet (a trailing ASCII run)
  std::vector<std::string> words_;    // tokens not yet in a window
  std::vector<int32_t> ids_;
  std::size_t first_ = 0;             // first unused entry of words_/ids_
  std::vector<std::string> remain_words_;  // carried over from the previous window
  std::vector<int32_t> remain_ids_;
  std::vector<std::string> win_words_;
  std::vector<int32_t> win_ids_;
  std::vector<int> puncs_;
  std::vector<float> logits_;
};

}  // namespace paraserve
