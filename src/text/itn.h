// Inverse text normalisation with FunASR's ITN model directory (`--itn-dir`, e.g.
// thuduj12/fst_itn_zh): two OpenFst StdVectorFst files in WeTextProcessing's format,
// zh_itn_tagger.fst and zh_itn_verbalizer.fst, labels = the bytes of UTF-8 text.
//
// normalize() does what FunASR's ITNProcessor::Normalize does (funasr-compat.md §3.6):
//   1. the input bytes as a linear acceptor, composed with the tagger; the shortest path's
//      output is the token string, e.g. `char { value: "共" } cardinal { value: "465" }`;
//   2. reorder_itn_tokens() (text/itn_token_parser.h);
//   3. that string composed with the verbaliser; the shortest path's output is the result.
// An empty input or an empty token string gives "".
//
// The FSTs are loaded once and shared read-only by every thread; each call builds its own
// lattices (no state is kept between calls).
#pragma once
#include <memory>
#include <string>
#include <string_view>

namespace paraserve {

class InverseTextNormalizer {
 public:
  static constexpr const char* kTaggerFile = "zh_itn_tagger.fst";
  static constexpr const char* kVerbalizerFile = "zh_itn_verbalizer.fst";

  // Loads <dir>/zh_itn_tagger.fst and <dir>/zh_itn_verbalizer.fst. Throws paraserve::Error
  // naming the file that is missing or not a readable OpenFst vector FST.
  static std::shared_ptr<const InverseTextNormalizer> load(const std::string& dir);

  ~InverseTextNormalizer();
  InverseTextNormalizer(const InverseTextNormalizer&) = delete;
  InverseTextNormalizer& operator=(const InverseTextNormalizer&) = delete;

  // The normalised text in `out`. False (out unspecified) when the tagger or the verbaliser
  // accepts no path for the input, or the tagger's token string is malformed. FunASR then
  // returns "" (the tagger case) or hangs/aborts (the parser case); callers keep the input.
  // WeTextProcessing's taggers accept every string (a per-character fallback), so with a
  // well-formed model directory this does not happen.
  bool normalize(std::string_view input, std::string& out) const;

  // The tagger's output alone (step 1), for tests and diagnostics; false if no path.
  bool tag(std::string_view input, std::string& out) const;

  // "itn: <dir>/zh_itn_tagger.fst (N states), zh_itn_verbalizer.fst (M states)".
  const std::string& description() const { return description_; }

 private:
  struct Fsts;
  explicit InverseTextNormalizer(std::unique_ptr<Fsts> fsts, std::string description);
  std::unique_ptr<Fsts> fsts_;
  std::string description_;
};

}  // namespace paraserve
