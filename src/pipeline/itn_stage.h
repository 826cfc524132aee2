// Where ITN enters the pipeline (funasr-compat.md §3.6, §5.5), as FunASR's runtime applies it
// after punctuation: the text is normalised and, when it has token timestamps, the stamps are
// re-aligned to the normalised text (TimestampSmooth); where the re-alignment fails the
// original stamps are kept. Sentence stamps are then built from the normalised text.
#pragma once
#include <cstddef>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/stream_types.h"
#include "text/itn.h"

namespace paraserve {

// One text (a 2pass-offline sentence) and its stamps, in place. False when the normaliser
// found no path (text and stamps unchanged; FunASR would send "" there, see text/itn.h).
bool apply_itn(const InverseTextNormalizer& itn, std::string& text, std::vector<TokenStamp>& stamps);

// ITN for `paraserve transcribe`, which FunASR's funasr-onnx-offline applies to the whole
// punctuated text of a file at once. Here the text is normalised sentence by sentence (cut
// after 。 or ？; a held text over kMaxHeld bytes is also cut after ， or 、), with the stamps of
// each sentence's units, so memory stays bounded (the re-alignment is quadratic in the text
// length: a whole hour of text would need a table of about a gigabyte). The text is the same as
// FunASR's whenever no ITN token spans a sentence end.
class ItnTextStream {
 public:
  static constexpr std::size_t kMaxHeld = 2048;

  // has_stamps: the model gives token stamps, so a sentence waits until its stamps arrived.
  ItnTextStream(const InverseTextNormalizer& itn, bool has_stamps) : itn_(itn), has_stamps_(has_stamps) {}

  void add_stamps(std::span<const TokenStamp> stamps) { stamps_.insert(stamps_.end(), stamps.begin(), stamps.end()); }
  void add_text(std::string_view text) { held_ += text; }

  // The next normalised piece and its stamps, if one is ready; at eof everything held.
  bool take(bool eof, std::string& text, std::vector<TokenStamp>& stamps);

  std::size_t state_bytes() const { return held_.capacity() + stamps_.size() * sizeof(TokenStamp); }

 private:
  const InverseTextNormalizer& itn_;
  bool has_stamps_;
  std::string held_;
  std::deque<TokenStamp> stamps_;
  std::vector<std::string> units_;
};

}  // namespace paraserve
