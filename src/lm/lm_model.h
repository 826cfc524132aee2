// A FunASR n-gram LM directory (funasr-compat.md §3.7; FunASR's runtime/tools/fst recipe):
//   TLG.fst      OpenFst graph, standard (tropical) arcs; input label k = ASR token id k-1
//                (label 0 = epsilon), output label = word id (0 = epsilon)
//   config.yaml  token_list: the word list (index = word id; from the recipe's words.txt)
//   lexicon.txt  word<TAB>space-separated ASR tokens (used to spell hotwords)
// Loaded once and shared read-only by every search. A "const" graph is memory-mapped where
// OpenFst can map it (aligned file); any other graph type is read and converted to a
// ConstFst once.
#pragma once
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "lm/wfst_search.h"

namespace paraserve::lm {

struct LmModel {
  std::string dir;
  std::unique_ptr<const Graph> graph;
  std::vector<std::string> words;                          // config.yaml token_list
  std::unordered_map<std::string, std::string> lexicon;    // word -> "tok tok ..."
  std::string graph_type;  // the file's FST type ("vector", "const", ...)
  bool mapped = false;     // the graph's arrays are memory-mapped from the file

  // Throws paraserve::Error naming the missing or unreadable file.
  static std::shared_ptr<const LmModel> load(const std::string& dir);
  // "lm: DIR/TLG.fst (vector -> const, N states, M arcs), K words, L lexicon entries"
  std::string describe() const;
};

// FunASR's SplitChiEngCharacters: each CJK character (U+4E00-U+9FFF, U+3400-U+4DFF) is a
// piece; runs of other characters between spaces/CJK characters are pieces.
std::vector<std::string> split_chi_eng(const std::string& text);

}  // namespace paraserve::lm
