// `paraserve transcribe`: offline transcription of audio files (or stdin "-") with the
// offline pipeline (VAD segmentation -> offline Paraformer -> punctuation -> timestamps).
// Files are decoded on N worker threads, each as a stream (bounded memory for any length);
// results are printed in input order, the head file's text as soon as it is final.
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/runtime_settings.h"
#include "common/error.h"
#include "frontend/audio_file.h"
#include "pipeline/engine.h"
#include "pipeline/transcriber.h"

namespace paraserve::cli {

namespace {

struct TranscribeArgs {
  std::string vad_dir, model_dir, online_model_dir, punc_dir, itn_dir;
  std::string quantize = "true", vad_quant = "true", punc_quant = "true";
  int threads = 1;
  RuntimeSettings runtime;  // same allocator / ORT settings as `serve`
  std::string format = "text";
  int audio_fs = 16000;
  std::vector<std::string> files;
  bool verbose = false;
  EngineConfig lm;  // lm_dir, beams, am_scale, hotword_file, fst_inc_wts (as `serve`)
  OfflineAsrOptions svs;  // --svs-lang / --svs-itn (SenseVoiceSmall only)
};

bool ends_with_ci(const std::string& s, const std::string& suffix) {
  if (s.size() < suffix.size()) return false;
  for (std::size_t i = 0; i < suffix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[s.size() - suffix.size() + i])) != suffix[i]) return false;
  return true;
}

std::unique_ptr<AudioReader> open_input(const std::string& path, int audio_fs) {
  if (path != "-" && ends_with_ci(path, ".pcm")) return AudioReader::open_raw_s16le(path, audio_fs);
  return AudioReader::open(path);
}

std::string srt_time(int64_t ms) {
  if (ms < 0) ms = 0;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld,%03lld", static_cast<long long>(ms / 3600000),
                static_cast<long long>(ms / 60000 % 60), static_cast<long long>(ms / 1000 % 60),
                static_cast<long long>(ms % 1000));
  return buf;
}

// A JSON string's contents without the quotes (escaping is per character, so the escaped
// pieces of a text concatenate to the escaped text).
std::string json_body(std::string_view s) {
  std::string q = nlohmann::json(std::string(s)).dump();
  return q.substr(1, q.size() - 2);
}

std::string json_stamp(const TokenStamp& s) {
  return "[" + std::to_string(s.begin_ms) + "," + std::to_string(s.end_ms) + "]";
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using TmpFile = std::unique_ptr<std::FILE, FileCloser>;

TmpFile make_tmp() {
  TmpFile f(std::tmpfile());
  if (!f) throw Error(std::string("cannot create a temporary file (") + std::strerror(errno) + ")");
  return f;
}

void tmp_write(std::FILE* f, std::string_view s) {
  if (!s.empty() && std::fwrite(s.data(), 1, s.size(), f) != s.size())
    throw Error(std::string("cannot write a temporary file (") + std::strerror(errno) + ")");
}

// Prints every file's output in input order while files are decoded in parallel: the file
// at the head writes straight to stdout; the others go to a temporary file (not memory)
// that is copied out when their turn comes.
class OrderedOutput {
 public:
  explicit OrderedOutput(std::size_t n, bool progress) : slots_(n), progress_(progress) {}

  void write(std::size_t i, std::string_view s) {
    std::lock_guard<std::mutex> lock(mu_);
    if (i == head_) {
      std::fwrite(s.data(), 1, s.size(), stdout);
      std::fflush(stdout);
    } else {
      if (!slots_[i].tmp) slots_[i].tmp = make_tmp();
      tmp_write(slots_[i].tmp.get(), s);
    }
  }

  void done(std::size_t i, std::string error) {
    std::lock_guard<std::mutex> lock(mu_);
    slots_[i].done = true;
    slots_[i].error = std::move(error);
    while (head_ < slots_.size() && slots_[head_].done) {
      Slot& s = slots_[head_];
      if (progress_) std::fprintf(stderr, "\r\033[K");
      if (!s.error.empty()) {
        ++failures_;
        std::fprintf(stderr, "paraserve transcribe: %s\n", s.error.c_str());
      }
      ++head_;
      if (progress_) {
        const int width = 30;
        const int filled = static_cast<int>(head_ * width / slots_.size());
        std::fprintf(stderr, "[%s%s] %zu/%zu", std::string(static_cast<std::size_t>(filled), '#').c_str(),
                     std::string(static_cast<std::size_t>(width - filled), '.').c_str(), head_, slots_.size());
        if (head_ == slots_.size()) std::fprintf(stderr, "\r\033[K");
        std::fflush(stderr);
      }
      if (head_ < slots_.size() && slots_[head_].tmp) copy_out(slots_[head_]);
    }
    cv_.notify_all();
  }

  int wait_all() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return head_ == slots_.size(); });
    return failures_;
  }

 private:
  struct Slot {
    TmpFile tmp;
    bool done = false;
    std::string error;
  };
  static void copy_out(Slot& s) {
    std::rewind(s.tmp.get());
    char buf[65536];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, s.tmp.get())) > 0) std::fwrite(buf, 1, n, stdout);
    std::fflush(stdout);
    s.tmp.reset();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Slot> slots_;
  std::size_t head_ = 0;
  int failures_ = 0;
  bool progress_ = false;
};

// Formats one file's transcript while it is produced. Text goes out as it becomes final;
// JSON and SRT are assembled from temporary files at the end (their field order, and the SRT
// cue choice, need the whole transcript), so memory stays bounded for any length.
class FormatSink final : public TranscriptSink {
 public:
  FormatSink(const TranscribeArgs& a, const std::string& file, OrderedOutput& out, std::size_t index)
      : a_(a), file_(file), out_(out), index_(index) {
    if (a.format == "json") {
      segs_ = make_tmp();
      sents_ = make_tmp();
      text_ = make_tmp();
      stamps_ = make_tmp();
    } else if (a.format == "srt") {
      sents_ = make_tmp();
      segs_ = make_tmp();
    }
  }

  void on_segment(const Transcript::Segment& s) override {
    ++n_segments_;
    if (a_.format == "json") {
      tmp_write(segs_.get(), std::string(n_segments_ > 1 ? "," : "") + "{\"end\":" + std::to_string(s.end_ms) +
                                 ",\"start\":" + std::to_string(s.start_ms) + ",\"text\":\"" + json_body(s.text) + "\"}");
    } else if (a_.format == "srt") {
      // One cue per segment when there are several; a single segment gets the whole
      // (punctuated) text at the end.
      if (n_segments_ == 1) {
        first_seg_ = s;
      } else {
        if (n_segments_ == 2) seg_cue(first_seg_, first_seg_.text);
        seg_cue(s, s.text);
        single_text_.clear();
        single_text_.shrink_to_fit();
      }
    }
  }

  void on_stamps(std::span<const TokenStamp> stamps) override {
    if (a_.format != "json") return;
    std::string s;
    for (const TokenStamp& t : stamps) {
      if (n_stamps_++ > 0) s += ',';
      s += json_stamp(t);
    }
    tmp_write(stamps_.get(), s);
  }

  void on_text(std::string_view text) override {
    if (a_.format == "json") {
      tmp_write(text_.get(), json_body(text));
    } else if (a_.format == "srt") {
      if (n_segments_ <= 1) single_text_ += text;
    } else {
      if (!started_ && a_.files.size() > 1) out_.write(index_, file_ + "\t");
      started_ = true;
      out_.write(index_, text);
    }
  }

  void on_sentence(const SentenceStamp& s) override {
    if (a_.format == "json") {
      std::string tl;
      for (const TokenStamp& t : s.ts_list) tl += (tl.empty() ? "" : ",") + json_stamp(t);
      tmp_write(sents_.get(), std::string(n_sents_++ > 0 ? "," : "") + "{\"end\":" + std::to_string(s.end) +
                                  ",\"punc\":\"" + json_body(s.punc) + "\",\"start\":" + std::to_string(s.start) +
                                  ",\"text_seg\":\"" + json_body(s.text_seg) + "\",\"ts_list\":[" + tl + "]}");
    } else if (a_.format == "srt") {
      ++n_sents_;
      if (s.text_seg.empty()) return;  // punctuation-only items carry no time span
      // text_seg separates units with spaces; keep spaces only between ASCII words.
      const std::string& text = s.text_seg;
      std::string compact;
      for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == ' ' && (i == 0 || i + 1 >= text.size() || static_cast<unsigned char>(text[i - 1]) >= 0x80 ||
                               static_cast<unsigned char>(text[i + 1]) >= 0x80))
          continue;
        compact += text[i];
      }
      cue(sents_.get(), sent_cues_, s.start, s.end, compact + s.punc);
    }
  }

  // After the transcript: the closing newline, or the assembled JSON / SRT.
  void finish(double duration_s, double processing_s) {
    if (a_.format == "json") {
      const double rtf = duration_s > 0 ? processing_s / duration_s : 0;
      out_.write(index_, "{\"duration\":" + nlohmann::json(duration_s).dump() + ",\"file\":\"" + json_body(file_) +
                             "\",\"rtf\":" + nlohmann::json(rtf).dump() + ",\"segments\":[");
      copy(segs_.get());
      out_.write(index_, "],\"stamp_sents\":[");
      copy(sents_.get());
      out_.write(index_, "],\"text\":\"");
      copy(text_.get());
      out_.write(index_, "\",\"timestamp\":[");
      copy(stamps_.get());
      out_.write(index_, "]}\n");
    } else if (a_.format == "srt") {
      if (a_.files.size() > 1) out_.write(index_, "# " + file_ + "\n");
      if (n_sents_ > 0) {
        copy(sents_.get());
      } else {
        if (n_segments_ == 1) seg_cue(first_seg_, single_text_);
        copy(segs_.get());
      }
    } else {
      if (!started_ && a_.files.size() > 1) out_.write(index_, file_ + "\t");
      out_.write(index_, "\n");
    }
  }

  // A file that failed after some text was written still ends its line.
  void abort() {
    if (a_.format == "text" && started_) out_.write(index_, "\n");
  }

 private:
  void seg_cue(const Transcript::Segment& s, const std::string& text) { cue(segs_.get(), seg_cues_, s.start_ms, s.end_ms, text); }
  static void cue(std::FILE* f, int& n, int64_t b, int64_t e, const std::string& text) {
    if (text.empty()) return;
    tmp_write(f, std::to_string(++n) + "\n" + srt_time(b) + " --> " + srt_time(e) + "\n" + text + "\n\n");
  }
  void copy(std::FILE* f) {
    std::rewind(f);
    char buf[65536];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out_.write(index_, std::string_view(buf, n));
  }

  const TranscribeArgs& a_;
  const std::string& file_;
  OrderedOutput& out_;
  std::size_t index_;
  TmpFile segs_, sents_, text_, stamps_;
  int n_segments_ = 0, n_stamps_ = 0, n_sents_ = 0;
  int sent_cues_ = 0, seg_cues_ = 0;
  Transcript::Segment first_seg_;
  std::string single_text_;
  bool started_ = false;
};

int run_transcribe(const TranscribeArgs& a) {
  if (a.threads < 1) throw Error("--threads must be >= 1, got " + std::to_string(a.threads));
  if (a.audio_fs < 1000 || a.audio_fs > 384000) throw Error("--audio-fs must be in [1000, 384000], got " + std::to_string(a.audio_fs));
  EngineConfig cfg;
  cfg.vad_dir = a.vad_dir;
  cfg.online_model_dir = a.online_model_dir;
  cfg.offline_model_dir = a.model_dir;
  cfg.punc_dir = a.punc_dir;
  cfg.itn_dir = a.itn_dir;
  cfg.quantize = a.quantize;
  cfg.vad_quant = a.vad_quant;
  cfg.punc_quant = a.punc_quant;
  cfg.lm_dir = (a.lm.lm_dir == "NONE" || a.lm.lm_dir == "none") ? std::string() : a.lm.lm_dir;
  cfg.global_beam = a.lm.global_beam;
  cfg.lattice_beam = a.lm.lattice_beam;
  cfg.am_scale = a.lm.am_scale;
  cfg.hotword_file = a.lm.hotword_file;
  cfg.fst_inc_wts = a.lm.fst_inc_wts;
  std::string warning;
  const std::string engine_line = apply_runtime_settings(a.runtime, warning);
  if (!warning.empty()) std::fprintf(stderr, "paraserve transcribe: %s\n", warning.c_str());
  if (a.verbose) std::fprintf(stderr, "paraserve transcribe: %s\n", engine_line.c_str());
  cfg.ort = a.runtime.ort;
  auto engine = load_engine(cfg);
  for (const auto& line : load_warnings(*engine)) std::fprintf(stderr, "paraserve transcribe: %s\n", line.c_str());
  if (auto line = purge_after_load(); a.verbose && !line.empty())
    std::fprintf(stderr, "paraserve transcribe: %s\n", line.c_str());
  Transcriber transcriber(engine, a.svs);

  const std::size_t n = a.files.size();
  OrderedOutput out(n, isatty(STDERR_FILENO) != 0 && n > 1);
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    std::vector<float> block;
    for (std::size_t i = next++; i < n; i = next++) {
      const std::string& file = a.files[i];
      std::string error;
      std::unique_ptr<FormatSink> sink;
      try {
        const auto t0 = std::chrono::steady_clock::now();
        auto reader = open_input(file, a.audio_fs);
        sink = std::make_unique<FormatSink>(a, file, out, i);
        auto stream = transcriber.stream(*sink);
        while (reader->read(block)) stream->accept(block);
        stream->finish();
        sink->finish(stream->duration_s(),
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      } catch (const std::exception& e) {
        if (sink) sink->abort();
        // The decoders' messages already start with the path; name it otherwise.
        error = e.what();
        if (error.rfind(file, 0) != 0) error = file + ": " + error;
      }
      out.done(i, std::move(error));
    }
  };
  std::vector<std::thread> pool;
  const int nthreads = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(a.threads), n));
  for (int t = 0; t < nthreads; ++t) pool.emplace_back(worker);
  const int failures = out.wait_all();
  for (auto& t : pool) t.join();
  return failures == 0 ? 0 : 1;
}

}  // namespace

void add_transcribe_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<TranscribeArgs>();
  auto* sub = app.add_subcommand("transcribe", "Transcribe audio files offline (VAD + offline Paraformer + punctuation)");
  sub->add_option("--vad-dir", args->vad_dir, "FSMN-VAD model dir (without it each file is one segment)");
  sub->add_option("--model-dir", args->model_dir,
                  "offline Paraformer model dir, or SenseVoiceSmall (a path containing 'SenseVoiceSmall')")
      ->required();
  sub->add_option("--svs-lang", args->svs.svs_lang,
                  "SenseVoiceSmall language: auto, zh, en, yue, ja, ko, nospeech (others = auto)")
      ->capture_default_str();
  sub->add_option("--svs-itn", args->svs.svs_itn, "SenseVoiceSmall text normalisation (withitn): true | false")
      ->capture_default_str();
  sub->add_option("--online-model-dir", args->online_model_dir,
                  "streaming Paraformer dir whose am.mvn/config.yaml/tokens.json serve the offline model (as FunASR 2pass)");
  sub->add_option("--punc-dir", args->punc_dir, "CT-Transformer punctuation dir (offline or realtime)");
  sub->add_option("--itn-dir", args->itn_dir,
                  "ITN dir (zh_itn_tagger.fst, zh_itn_verbalizer.fst): normalise numbers, dates, amounts");
  sub->add_option("--quantize", args->quantize, "load model_quant.onnx for the ASR models (only exactly 'true')")
      ->capture_default_str();
  sub->add_option("--vad-quant", args->vad_quant, "quantized VAD (only exactly 'true')")->capture_default_str();
  sub->add_option("--punc-quant", args->punc_quant, "quantized punctuation (only exactly 'true')")->capture_default_str();
  sub->add_option("--threads", args->threads, "files decoded in parallel")->capture_default_str();
  sub->add_option("--lm-dir", args->lm.lm_dir, "n-gram LM directory (TLG.fst, config.yaml, lexicon.txt)");
  sub->add_option("--global-beam", args->lm.global_beam, "LM search beam")->capture_default_str();
  sub->add_option("--lattice-beam", args->lm.lattice_beam, "LM lattice beam (no effect on the best path)")
      ->capture_default_str();
  sub->add_option("--am-scale", args->lm.am_scale, "LM search acoustic scale")->capture_default_str();
  sub->add_option("--hotword", args->lm.hotword_file, "hotword file, lines 'phrase weight' (needs --lm-dir)");
  sub->add_option("--fst-inc-wts", args->lm.fst_inc_wts, "hotword bias per matched token")->capture_default_str();
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
