// `paraserve models DIR`: load every model found under DIR (or DIR itself as one FunASR
// model dir), check the ONNX I/O contracts and print what was loaded.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "common/error.h"
#include "models/model_dir.h"
#include "models/onnx_ops.h"
#include "models/ort_runtime.h"
#include "models/paraformer_offline.h"
#include "models/sensevoice.h"
#include "models/paraformer_online.h"
#include "models/punc_model.h"
#include "models/vad_model.h"

namespace paraserve::cli {

namespace {

namespace fs = std::filesystem;

// Subfolder names of a model set (models/tiny etc.), in pipeline order.
const char* const kSubdirs[] = {"vad", "online", "offline", "offline-ts", "SenseVoiceSmall", "punc", "punc-offline"};

// "in_cache_7" -> ("in_cache_", 7); no trailing number -> (name, -1).
std::pair<std::string, int> split_index(const std::string& name) {
  std::size_t i = name.size();
  while (i > 0 && name[i - 1] >= '0' && name[i - 1] <= '9') --i;
  if (i == name.size() || name.size() - i > 4) return {name, -1};
  return {name.substr(0, i), std::stoi(name.substr(i))};
}

// One line per tensor; runs like in_cache_0..15 with equal dtype/shape become one line.
void print_tensors(const char* dir, const std::vector<TensorSpec>& ts) {
  for (std::size_t i = 0; i < ts.size();) {
    const auto [stem, first] = split_index(ts[i].name);
    std::size_t j = i + 1;
    while (first >= 0 && j < ts.size() && ts[j].type == ts[i].type && ts[j].shape == ts[i].shape &&
           split_index(ts[j].name) == std::make_pair(stem, first + static_cast<int>(j - i)))
      ++j;
    std::string name = ts[i].name;
    if (j - i > 2) name = stem + std::to_string(first) + ".." + std::to_string(first + static_cast<int>(j - i) - 1);
    else j = i + 1;
    std::printf("      %-4s %-22s %-8s %s\n", dir, name.c_str(), dtype_name(ts[i].type).c_str(),
                shape_string(ts[i].shape).c_str());
    i = j;
  }
}

void print_file(const OnnxFileInfo& f) {
  std::printf("  %-17s %s%s  (%.1f ms)\n", f.kind.c_str(), f.path.c_str(), f.quantized ? "  [quantized]" : "",
              f.load_ms);
  print_tensors("in", f.io.inputs);
  print_tensors("out", f.io.outputs);
}

// Which FunASR model a single directory holds, from its files and its ONNX inputs.
std::string detect_kind(const std::string& dir, const std::string& quant, const OrtRuntime& rt) {
  if (!optional_file(dir, "decoder.onnx").empty() || !optional_file(dir, "decoder_quant.onnx").empty())
    return "online";
  if (is_sensevoice_dir(dir)) return "sensevoice";  // FunASR's rule: by the path
  const std::string onnx = resolve_onnx(dir, "model", quant);
  const ModelContract io = read_contract(*rt.open(onnx));
  if (!io.inputs.empty() && io.inputs[0].name == "inputs") return "punc";
  if (io.inputs.size() == 5 && io.inputs[1].name == "in_cache0") return "vad";
  return "offline";
}

void load_one(const std::string& dir, const std::string& kind, const std::string& quant, OrtRuntime& rt) {
  std::printf("%s: %s\n", kind.c_str(), dir.c_str());
  if (kind == "vad") {
    auto m = VadModel::load(dir, quant, rt);
    const auto& c = m->config();
    print_file(m->info());
    std::printf("      config: fs %d, %d mels, LFR %d/%d, max_end_silence %d ms, max_segment %d ms, speech_noise_thres %g\n",
                c.fbank.sample_rate, c.fbank.n_mels, c.lfr_m, c.lfr_n, c.max_end_silence_time,
                c.max_single_segment_time, static_cast<double>(c.speech_noise_thres));
  } else if (kind == "online") {
    auto m = OnlineParaformerModel::load(dir, quant, rt);
    const auto& c = m->config();
    print_file(m->encoder_info());
    print_file(m->decoder_info());
    std::printf("      config: fs %d, %d mels, LFR %d/%d, encoder %d, %d decoder caches x [%d,%d], cif %g, tail %g, vocab %d\n",
                c.frontend.fbank.sample_rate, c.frontend.fbank.n_mels, c.frontend.lfr_m, c.frontend.lfr_n,
                c.encoder_size, c.fsmn_layers, c.encoder_size, c.fsmn_lorder, static_cast<double>(c.cif_threshold),
                static_cast<double>(c.tail_alphas), m->vocab_size());
  } else if (kind == "SenseVoiceSmall" || kind == "sensevoice") {
    auto m = SenseVoiceModel::load(dir, quant, rt);
    print_file(m->info());
    std::printf("      SenseVoiceSmall: vocab %d (tags kept in the text; svs_lang / svs_itn per utterance)\n",
                m->vocab().size());
  } else if (kind == "offline" || kind == "offline-ts") {
    auto m = OfflineParaformerModel::load(dir, quant, rt);
    print_file(m->info());
    std::printf("      timestamps: %s\n", m->has_timestamps() ? "yes" : "no");
  } else {
    auto m = PuncModel::load(dir, quant, rt);
    print_file(m->info());
    std::string puncs;
    for (const auto& p : m->punc_list()) puncs += (puncs.empty() ? "" : " ") + p;
    std::printf("      %s, vocab %d, punc_list: %s\n", m->realtime() ? "realtime (vad_realtime)" : "offline",
                m->vocab().size(), puncs.c_str());
  }
}

int run_models(const std::string& dir, const std::string& quant, int threads) {
  OrtOptions opts;
  opts.intra_threads = threads;
  OrtRuntime rt(opts);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(dir + ": not a directory");
  std::vector<std::pair<std::string, std::string>> todo;  // (dir, kind)
  for (const char* sub : kSubdirs) {
    const std::string p = join_path(dir, sub);
    if (fs::is_directory(p, ec)) todo.emplace_back(p, std::string(sub) == "punc-offline" ? "punc" : sub);
  }
  if (todo.empty()) todo.emplace_back(dir, detect_kind(dir, quant, rt));
  for (const auto& [d, kind] : todo) load_one(d, kind, quant, rt);
  std::printf("ok: %zu model dir%s loaded, contracts match (quantize=%s: %s)\n", todo.size(),
              todo.size() == 1 ? "" : "s", quant.c_str(),
              quantize_selected(quant) ? "*_quant.onnx files" : "fp32 files; only exactly 'true' selects *_quant.onnx");
  return 0;
}

// `--ops`: op types of each ONNX file as stored and after ONNX Runtime's graph optimiser
// (the session options of `serve`, at `level`), side by side. The optimised graph is written
// to a temporary file by ORT itself (SessionOptions optimized_model_filepath) and deleted.
void print_ops(const std::string& onnx, const OrtRuntime& rt) {
  const OpCounts before = count_onnx_ops_file(onnx);
  const fs::path tmp = fs::temp_directory_path() /
                       ("paraserve-ops-" + std::to_string(::getpid()) + "-" + fs::path(onnx).filename().string());
  OpCounts after;
  try {
    rt.open_and_save_optimized(onnx, tmp.string());
    after = count_onnx_ops_file(tmp.string());
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
  std::error_code ec;
  fs::remove(tmp, ec);
  auto total = [](const OpCounts& c) {
    int n = 0;
    for (const auto& [op, k] : c) n += k;
    return n;
  };
  std::printf("%s: %d nodes as stored, %d after ONNX Runtime optimisation (level %d)\n", onnx.c_str(), total(before),
              total(after), rt.options().graph_opt_level);
  std::vector<std::string> ops;
  for (const auto& [op, k] : before) ops.push_back(op);
  for (const auto& [op, k] : after)
    if (!before.count(op)) ops.push_back(op);
  auto get = [](const OpCounts& c, const std::string& op) {
    auto it = c.find(op);
    return it == c.end() ? 0 : it->second;
  };
  // Most frequent (after optimisation, then as stored) first.
  std::stable_sort(ops.begin(), ops.end(), [&](const std::string& a, const std::string& b) {
    return std::make_pair(get(after, a), get(before, a)) > std::make_pair(get(after, b), get(before, b));
  });
  std::printf("  %-44s %8s %10s\n", "op type", "stored", "optimised");
  for (const auto& op : ops) std::printf("  %-44s %8d %10d\n", op.c_str(), get(before, op), get(after, op));
}

int run_ops(const std::string& path, const std::string& quant, int threads, int level) {
  OrtOptions opts;
  opts.intra_threads = threads;
  opts.graph_opt_level = level;
  OrtRuntime rt(opts);
  std::error_code ec;
  std::vector<std::string> files;
  if (fs::is_regular_file(path, ec)) {
    files.push_back(path);
  } else {
    if (!fs::is_directory(path, ec)) throw Error(path + ": not a file or directory");
    std::vector<std::string> dirs;
    for (const char* sub : kSubdirs)
      if (fs::is_directory(join_path(path, sub), ec)) dirs.push_back(join_path(path, sub));
    if (dirs.empty()) dirs.push_back(path);
    const bool q = quantize_selected(quant);
    for (const auto& d : dirs) {
      std::vector<std::string> here;
      for (const auto& e : fs::directory_iterator(d, ec)) {
        const std::string name = e.path().filename().string();
        if (e.path().extension() != ".onnx") continue;
        if ((name.find("_quant.onnx") != std::string::npos) == q) here.push_back(e.path().string());
      }
      std::sort(here.begin(), here.end());
      files.insert(files.end(), here.begin(), here.end());
    }
    if (files.empty()) throw Error(path + ": no " + std::string(q ? "*_quant.onnx" : "fp32 .onnx") + " files");
  }
  for (const auto& f : files) print_ops(f, rt);
  return 0;
}

}  // namespace

void add_models_command(CLI::App& app, int& exit_code) {
  auto* sub = app.add_subcommand(
      "models", "Load FunASR model dirs (DIR/{vad,online,offline,offline-ts,SenseVoiceSmall,punc,punc-offline} or one model dir), "
                "check their ONNX contracts and print their inputs/outputs");
  struct Args {
    std::string dir;
    std::string quantize = "false";
    int threads = 1;
    bool ops = false;
    int level = 99;
  };
  auto args = std::make_shared<Args>();
  sub->add_option("DIR", args->dir, "model set or single FunASR model directory")->required();
  sub->add_option("--quantize", args->quantize,
                  "load *_quant.onnx when exactly 'true' (FunASR's rule); anything else loads the fp32 files")
      ->capture_default_str();
  sub->add_option("--threads", args->threads, "ORT intra-op threads per session")->capture_default_str();
  sub->add_flag("--ops", args->ops,
                "count node op types per ONNX file (DIR may also be one .onnx file), as stored and after ONNX "
                "Runtime's graph optimisation (--quantize picks *_quant.onnx or the fp32 files)");
  sub->add_option("--graph-opt-level", args->level, "--ops: ORT optimisation level 0, 1, 2 or 99 (serve uses 99)")
      ->capture_default_str();
  sub->callback([args, &exit_code] {
    try {
      exit_code = args->ops ? run_ops(args->dir, args->quantize, args->threads, args->level)
                            : run_models(args->dir, args->quantize, args->threads);
    } catch (const std::exception& e) {
      std::fflush(stdout);
      std::fprintf(stderr, "paraserve models: %s\n", e.what());
      exit_code = 1;
    }
  });
}

}  // namespace paraserve::cli
