#include "lm/lm_model.h"

#include <fstream>
#include <sstream>

#include <fst/fst.h>
#include <yaml-cpp/yaml.h>

#include "common/error.h"

namespace paraserve::lm {

namespace {

std::string require(const std::string& dir, const char* name, const char* what) {
  const std::string path = dir + "/" + name;
  std::ifstream f(path);
  if (!f) throw Error("--lm-dir " + dir + ": " + what + " " + path + " is missing or unreadable");
  return path;
}

std::unique_ptr<const Graph> read_graph(const std::string& path, std::string& type, bool& mapped) {
  std::ifstream in(path, std::ios::in | std::ios::binary);
  if (!in) throw Error(path + ": cannot open the LM graph");
  fst::FstHeader hdr;
  if (!hdr.Read(in, path))
    throw Error(path + ": not an OpenFst file (bad or truncated header)");
  type = hdr.FstType();
  if (hdr.ArcType() != fst::StdArc::Type())
    throw Error(path + ": arc type '" + hdr.ArcType() + "', expected 'standard' (tropical) as FunASR reads it");
  in.seekg(0);
  fst::FstReadOptions opts(path);
  opts.mode = fst::FstReadOptions::MAP;  // honoured by ConstFst when the file is aligned
  std::unique_ptr<fst::Fst<fst::StdArc>> f(fst::Fst<fst::StdArc>::Read(in, opts));
  if (!f) throw Error(path + ": OpenFst could not read this '" + type + "' FST (corrupt or truncated file?)");
  if (f->Start() == fst::kNoStateId) throw Error(path + ": the LM graph has no start state");
  if (auto* c = dynamic_cast<Graph*>(f.get())) {
    mapped = type == "const" && hdr.GetFlags() & fst::FstHeader::IS_ALIGNED;
    f.release();
    return std::unique_ptr<const Graph>(c);
  }
  mapped = false;
  return std::make_unique<const Graph>(*f);
}

}  // namespace

std::shared_ptr<const LmModel> LmModel::load(const std::string& dir) {
  auto m = std::make_shared<LmModel>();
  m->dir = dir;
  const std::string tlg = require(dir, "TLG.fst", "LM graph");
  const std::string cfg = require(dir, "config.yaml", "LM word list");
  const std::string lex = require(dir, "lexicon.txt", "LM lexicon");

  YAML::Node root;
  try {
    root = YAML::LoadFile(cfg);
  } catch (const std::exception& e) {
    throw Error(cfg + ": not valid YAML: " + e.what());
  }
  const YAML::Node list = root["token_list"];
  if (!list || !list.IsSequence() || list.size() == 0)
    throw Error(cfg + ": token_list (the LM word list) is missing or empty");
  m->words.reserve(list.size());
  try {
    for (const auto& w : list) m->words.push_back(w.as<std::string>());
  } catch (const std::exception& e) {
    throw Error(cfg + ": token_list entry " + std::to_string(m->words.size()) + " is not a string");
  }

  std::ifstream lf(lex);
  std::string line;
  while (std::getline(lf, line)) {  // FunASR's Vocab::LoadLex: key up to the first tab, value the rest
    const auto tab = line.find('\t');
    if (tab == std::string::npos) continue;
    std::string key = line.substr(0, tab), value = line.substr(tab + 1);
    if (!key.empty() && !value.empty()) m->lexicon[key] = value;
  }

  m->graph = read_graph(tlg, m->graph_type, m->mapped);
  return m;
}

std::string LmModel::describe() const {
  std::size_t arcs = 0;
  const auto states = graph->NumStates();
  for (int s = 0; s < states; ++s) arcs += graph->NumArcs(s);
  std::ostringstream o;
  o << "lm: " << dir << "/TLG.fst (" << graph_type << (graph_type == "const" ? "" : " -> const")
    << (mapped ? ", memory-mapped" : "") << ", " << states << " states, " << arcs << " arcs), " << words.size()
    << " words, " << lexicon.size() << " lexicon entries";
  return o.str();
}

std::vector<std::string> split_chi_eng(const std::string& text) {
  std::vector<std::string> out;
  std::string eng;
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t len = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (i + len > text.size()) len = text.size() - i;
    uint32_t cp = c;
    if (len == 3)
      cp = ((c & 0x0Fu) << 12) | ((static_cast<unsigned char>(text[i + 1]) & 0x3Fu) << 6) |
           (static_cast<unsigned char>(text[i + 2]) & 0x3Fu);
    const bool cjk = len == 3 && ((cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DFF));
    if (cjk) {
      if (!eng.empty()) out.push_back(std::move(eng)), eng.clear();
      out.push_back(text.substr(i, len));
    } else if (c == ' ') {
      if (!eng.empty()) out.push_back(std::move(eng)), eng.clear();
    } else {
      eng += text.substr(i, len);
    }
    i += len;
  }
  if (!eng.empty()) out.push_back(std::move(eng));
  return out;
}

}  // namespace paraserve::lm
