#include "text/itn.h"

#include <filesystem>
#include <fstream>

#include <fst/fstlib.h>

#include "common/error.h"
#include "text/itn_token_parser.h"

namespace paraserve {

struct InverseTextNormalizer::Fsts {
  std::unique_ptr<fst::StdVectorFst> tagger;
  std::unique_ptr<fst::StdVectorFst> verbalizer;
};

namespace {

std::unique_ptr<fst::StdVectorFst> read_fst(const std::string& dir, const char* name, const char* what) {
  const std::string path = (std::filesystem::path(dir) / name).string();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw Error("--itn-dir " + dir + ": missing " + name + " (the ITN " + what + ", an OpenFst StdVectorFst file)");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open the ITN " + std::string(what));
  // OpenFst reports the details on stderr; the error names the file.
  std::unique_ptr<fst::StdVectorFst> f(fst::StdVectorFst::Read(in, fst::FstReadOptions(path)));
  if (!f || f->Start() == fst::kNoStateId)
    throw Error(path + ": not a valid ITN " + std::string(what) +
                " (expected an OpenFst vector FST with standard arcs, as WeTextProcessing writes)");
  // Compute every property now: composition tests properties, and a property computed later
  // would be stored into the shared FST (atomically in OpenFst 1.7, but there is no need).
  f->Properties(fst::kFstProperties, true);
  return f;
}

// Compose the bytes of `input` (a linear acceptor) with `f`, take the shortest path and
// print its output bytes (epsilons omitted). False when no path exists.
bool compose_shortest(std::string_view input, const fst::StdVectorFst& f, std::string& out) {
  out.clear();
  fst::StdVectorFst in;
  const fst::StdStringCompiler compile(fst::TokenType::BYTE);
  if (!compile(std::string(input), &in)) return false;
  fst::StdVectorFst lattice;
  fst::Compose(in, f, &lattice);
  if (lattice.Start() == fst::kNoStateId) return false;
  fst::StdVectorFst best;
  fst::ShortestPath(lattice, &best, 1, true);
  if (best.Start() == fst::kNoStateId) return false;
  const fst::StdStringPrinter print(fst::TokenType::BYTE);
  return print(best, &out);
}

}  // namespace

std::shared_ptr<const InverseTextNormalizer> InverseTextNormalizer::load(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw Error("--itn-dir " + dir + ": not a directory (expected FunASR's ITN directory with " + kTaggerFile +
                " and " + kVerbalizerFile + ")");
  auto fsts = std::make_unique<Fsts>();
  fsts->tagger = read_fst(dir, kTaggerFile, "tagger");
  fsts->verbalizer = read_fst(dir, kVerbalizerFile, "verbaliser");
  const std::string description =
      "itn: " + (std::filesystem::path(dir) / kTaggerFile).string() + " (" + std::to_string(fsts->tagger->NumStates()) +
      " states), " + kVerbalizerFile + " (" + std::to_string(fsts->verbalizer->NumStates()) + " states)";
  return std::shared_ptr<const InverseTextNormalizer>(new InverseTextNormalizer(std::move(fsts), description));
}

InverseTextNormalizer::InverseTextNormalizer(std::unique_ptr<Fsts> fsts, std::string description)
    : fsts_(std::move(fsts)), description_(std::move(description)) {}

InverseTextNormalizer::~InverseTextNormalizer() = default;

bool InverseTextNormalizer::tag(std::string_view input, std::string& out) const {
  if (input.empty()) {
    out.clear();
    return true;
  }
  return compose_shortest(input, *fsts_->tagger, out);
}

bool InverseTextNormalizer::normalize(std::string_view input, std::string& out) const {
  std::string tagged;
  if (!tag(input, tagged)) return false;
  out.clear();
  if (tagged.empty()) return true;  // FunASR's verbalize("") is ""
  std::string ordered;
  if (!reorder_itn_tokens(tagged, ordered)) return false;
  return compose_shortest(ordered, *fsts_->verbalizer, out);
}

}  // namespace paraserve
