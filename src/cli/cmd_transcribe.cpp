// `paraserve transcribe`: offline transcription of audio files (or stdin "-") with the
// offline pipeline (VAD segmentation -> offline Paraformer -> punctuation -> timestamps).
// Files are decoded on N worker threads; results are printed in input order.
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/runtime_settings.h"
#include "common/error.h"
#include "decode/stamp_sents.h"
#include "frontend/audio_file.h"
#include "pipeline/engine.h"
#include "pipeline/transcriber.h"

namespace paraserve::cli {

namespace {

struct TranscribeArgs {
  std::string vad_dir, model_dir, online_model_dir, punc_dir;
  std::string quantize = "true", vad_quant = "true", punc_quant = "true";
  int threads = 1;
  RuntimeSettings runtime;  // same allocator / ORT settings as `serve`
  std::string format = "text";
  int audio_fs = 16000;
  std::vector<std::string> files;
  bool verbose = false;
};

struct FileResult {
  bool done = false;
  std::optional<Transcript> transcript;
  std::string error;
};

bool ends_with_ci(const std::string& s, const std::string& suffix) {
  if (s.size() < suffix.size()) return false;
  for (std::size_t i = 0; i < suffix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[s.size() - suffix.size() + i])) != suffix[i]) return false;
  return true;
}

DecodedAudio load_input(const std::string& path, int audio_fs) {
  if (path == "-") {
    std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    if (bytes.empty()) throw Error("stdin: no data");
    return decode_audio_bytes(bytes, "stdin");
  }
  if (ends_with_ci(path, ".pcm")) return decode_raw_pcm_s16le(path, audio_fs);
  return decode_audio_file(path);
}

std::string srt_time(int64_t ms) {
  if (ms < 0) ms = 0;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld,%03lld", static_cast<long long>(ms / 3600000),
                static_cast<long long>(ms / 60000 % 60), static_cast<long long>(ms / 1000 % 60),
                static_cast<long long>(ms % 1000));
  return buf;
}

nlohmann::json to_json(const std::string& file, const Transcript& t) {
  nlohmann::json j;
  j["file"] = file;
  j["text"] = t.text;
  nlohmann::json ts = nlohmann::json::array();
  for (const auto& s : t.timestamps) ts.push_back({s.begin_ms, s.end_ms});
  j["timestamp"] = ts;
  nlohmann::json sents = nlohmann::json::array();
  for (const auto& s : t.stamp_sents) {
    nlohmann::json tl = nlohmann::json::array();
    for (const auto& x : s.ts_list) tl.push_back({x.begin_ms, x.end_ms});
    sents.push_back({{"text_seg", s.text_seg}, {"punc", s.punc}, {"start", s.start}, {"end", s.end}, {"ts_list", tl}});
  }
  j["stamp_sents"] = sents;
  nlohmann::json segs = nlohmann::json::array();
  for (const auto& s : t.segments) segs.push_back({{"start", s.start_ms}, {"end", s.end_ms}, {"text", s.text}});
  j["segments"] = segs;
  j["duration"] = t.duration_s;
  j["rtf"] = t.rtf();
  return j;
}

// SRT cues: one per sentence stamp when the model gives timestamps, else one per VAD segment.
std::string to_srt(const Transcript& t) {
  std::string out;
  int n = 0;
  auto cue = [&](int64_t b, int64_t e, const std::string& text) {
    if (text.empty()) return;
    out += std::to_string(++n) + "\n" + srt_time(b) + " --> " + srt_time(e) + "\n" + text + "\n\n";
  };
  if (!t.stamp_sents.empty()) {
    for (const auto& s : t.stamp_sents) {
      if (s.text_seg.empty()) continue;  // punctuation-only items carry no time span
      std::string text = s.text_seg;
      // text_seg separates units with spaces; keep spaces only between ASCII words.
      std::string compact;
      for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == ' ' && (i == 0 || i + 1 >= text.size() || static_cast<unsigned char>(text[i - 1]) >= 0x80 ||
                               static_cast<unsigned char>(text[i + 1]) >= 0x80))
          continue;
        compact += text[i];
      }
      cue(s.start, s.end, compact + s.punc);
    }
  } else if (t.segments.size() == 1 || t.segments.empty()) {
    if (!t.segments.empty()) cue(t.segments[0].start_ms, t.segments[0].end_ms, t.text);
  } else {
    for (const auto& s : t.segments) cue(s.start_ms, s.end_ms, s.text);
  }
  return out;
}

void print_result(const TranscribeArgs& a, const std::string& file, const Transcript& t) {
  if (a.format == "json") {
    std::printf("%s\n", to_json(file, t).dump().c_str());
  } else if (a.format == "srt") {
    if (a.files.size() > 1) std::printf("# %s\n", file.c_str());
    std::printf("%s", to_srt(t).c_str());
  } else if (a.files.size() > 1) {
    std::printf("%s\t%s\n", file.c_str(), t.text.c_str());
  } else {
    std::printf("%s\n", t.text.c_str());
  }
  std::fflush(stdout);
}

int run_transcribe(const TranscribeArgs& a) {
  if (a.threads < 1) throw Error("--threads must be >= 1, got " + std::to_string(a.threads));
  if (a.audio_fs < 1000 || a.audio_fs > 384000) throw Error("--audio-fs must be in [1000, 384000], got " + std::to_string(a.audio_fs));
  EngineConfig cfg;
  cfg.vad_dir = a.vad_dir;
  cfg.online_model_dir = a.online_model_dir;
  cfg.offline_model_dir = a.model_dir;
  cfg.punc_dir = a.punc_dir;
  cfg.quantize = a.quantize;
  cfg.vad_quant = a.vad_quant;
  cfg.punc_quant = a.punc_quant;
  std::string warning;
  const std::string engine_line = apply_runtime_settings(a.runtime, warning);
  if (!warning.empty()) std::fprintf(stderr, "paraserve transcribe: %s\n", warning.c_str());
  if (a.verbose) std::fprintf(stderr, "paraserve transcribe: %s\n", engine_line.c_str());
  cfg.ort = a.runtime.ort;
  auto engine = load_engine(cfg);
  Transcriber transcriber(engine);

  const std::size_t n = a.files.size();
  std::vector<FileResult> results(n);
  std::mutex mu;
  std::condition_variable cv;
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i = next++; i < n; i = next++) {
      FileResult r;
      try {
        DecodedAudio audio = load_input(a.files[i], a.audio_fs);
        r.transcript = transcriber.transcribe(audio.samples);
      } catch (const std::exception& e) {
        r.error = e.what();
      }
      r.done = true;
      {
        std::lock_guard<std::mutex> lock(mu);
        results[i] = std::move(r);
      }
      cv.notify_all();
    }
  };
  std::vector<std::thread> pool;
  const int nthreads = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(a.threads), n));
  for (int t = 0; t < nthreads; ++t) pool.emplace_back(worker);

  const bool progress = isatty(STDERR_FILENO) != 0 && n > 1;
  int failures = 0;
  for (std::size_t i = 0; i < n; ++i) {
    FileResult r;
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return results[i].done; });
      r = std::move(results[i]);
    }
    if (progress) std::fprintf(stderr, "\r\033[K");
    if (r.transcript) {
      print_result(a, a.files[i], *r.transcript);
    } else {
      ++failures;
      // The decoders' messages already start with the path; name it otherwise.
      std::string msg = r.error.rfind(a.files[i], 0) == 0 ? r.error : a.files[i] + ": " + r.error;
      std::fprintf(stderr, "paraserve transcribe: %s\n", msg.c_str());
    }
    if (progress) {
      const int width = 30;
      const int filled = static_cast<int>((i + 1) * width / n);
      std::fprintf(stderr, "[%s%s] %zu/%zu", std::string(static_cast<std::size_t>(filled), '#').c_str(),
                   std::string(static_cast<std::size_t>(width - filled), '.').c_str(), i + 1, n);
      std::fflush(stderr);
    }
  }
  if (progress) std::fprintf(stderr, "\r\033[K");
  for (auto& t : pool) t.join();
  return failures == 0 ? 0 : 1;
}

}  // namespace

void add_transcribe_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<TranscribeArgs>();
  auto* sub = app.add_subcommand("transcribe", "Transcribe audio files offline (VAD + offline Paraformer + punctuation)");
  sub->add_option("--vad-dir", args->vad_dir, "FSMN-VAD model dir (without it each file is one segment)");
  sub->add_option("--model-dir", args->model_dir, "offline Paraformer model dir")->required();
  sub->add_option("--online-model-dir", args->online_model_dir,
                  "streaming Paraformer dir whose am.mvn/config.yaml/tokens.json serve the offline model (as FunASR 2pass)");
  sub->add_option("--punc-dir", args->punc_dir, "CT-Transformer punctuation dir (offline or realtime)");
  sub->add_option("--quantize", args->quantize, "load model_quant.onnx for the ASR models (only exactly 'true')")
      ->capture_default_str();
  sub->add_option("--vad-quant", args->vad_quant, "quantized VAD (only exactly 'true')")->capture_default_str();
  sub->add_option("--punc-quant", args->punc_quant, "quantized punctuation (only exactly 'true')")->capture_default_str();
  sub->add_option("--threads", args->threads, "files decoded in parallel")->capture_default_str();
  add_runtime_options(sub, args->runtime, "--model-threads");
  sub->add_flag("--verbose", args->verbose, "print the engine settings in force to stderr");
  sub->add_option("--format", args->format, "output: text | json | srt")
      ->check(CLI::IsMember({"text", "json", "srt"}))
      ->capture_default_str();
  sub->add_option("--audio-fs", args->audio_fs, "sample rate of raw .pcm input (s16le mono)")->capture_default_str();
  sub->add_option("files", args->files, "audio files (wav, flac, mp3, ...; .pcm raw; '-' = stdin)")->required();
  sub->callback([args, &exit_code] { exit_code = run_transcribe(*args); });
}

}  // namespace paraserve::cli
