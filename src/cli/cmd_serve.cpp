// `paraserve serve`: the FunASR-compatible 2pass WebSocket server. Flag names are
// funasr-wss-server-2pass's own (each takes a value, e.g. `--quantize true`).
#include <cstdlib>
#include <optional>
#include <utility>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "common/cpu_budget.h"
#include "common/error.h"
#include "cli/runtime_settings.h"
#include "observability/allocator_stats.h"
#include "observability/idle_purger.h"
#include "observability/memtrace.h"
#include "observability/metrics.h"
#include "observability/process_stats.h"
#include "pipeline/engine.h"
#include "server/server.h"

namespace paraserve::cli {
namespace {

struct ServeArgs {
  server::ServerConfig server;
  EngineConfig engine;
  std::string hotword_file;
  int io_threads = 0, decoder_threads = 0;  // 0 = derive from the CPU budget
  bool model_threads_given = false;         // --model-thread-num on the command line
  std::string memtrace;
  int memtrace_every = 0;
  RuntimeSettings runtime;  // allocator + ONNX Runtime (docs/memory.md says why each default)
  std::string log_level = "info";
  // Accepted for FunASR compatibility, not built: warn when set.
  std::string download_dir;
  std::string vad_rev, punc_rev, itn_rev, lm_rev, offline_rev, online_rev;
};

void check_dir(const std::string& dir, const char* flag, bool required) {
  if (dir.empty()) {
    if (required) throw Error(std::string(flag) + ": a local model directory is required");
    return;
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw Error(std::string(flag) + ": model directory '" + dir +
                "' does not exist (paraserve loads local directories only; no ModelScope download)");
}

int run_serve(ServeArgs& a) {
  spdlog::set_level(spdlog::level::from_str(a.log_level));
  auto warn_unbuilt = [](const std::string& v, const char* flag) {
    if (!v.empty()) spdlog::warn("{} is accepted for FunASR compatibility but not built in paraserve; ignored", flag);
  };
  warn_unbuilt(a.download_dir, "--download-model-dir");
  for (const auto* rev : {&a.vad_rev, &a.punc_rev, &a.itn_rev, &a.lm_rev, &a.offline_rev, &a.online_rev})
    warn_unbuilt(*rev, "--*-revision");

  check_dir(a.engine.vad_dir, "--vad-dir", true);
  check_dir(a.engine.online_model_dir, "--online-model-dir", true);
  check_dir(a.engine.offline_model_dir, "--model-dir", true);  // every 2pass session needs both
  check_dir(a.engine.punc_dir, "--punc-dir", true);
  // FunASR: an empty / NONE / none --lm-dir disables the LM.
  if (a.engine.lm_dir == "NONE" || a.engine.lm_dir == "none") a.engine.lm_dir.clear();
  check_dir(a.engine.lm_dir, "--lm-dir", false);
  a.engine.hotword_file = a.hotword_file;  // loaded (and reported) by load_engine

  // Thread layout from the CPUs this process may use (docs/server.md, "Thread layout").
  const CpuBudget budget = read_cpu_budget();
  if (!budget.warning.empty()) spdlog::warn("cpu budget: {}", budget.warning);
  const ThreadLayout layout = plan_threads(
      budget.cpus, {.io = a.io_threads,
                    .decoders = a.decoder_threads,
                    .intra_op = a.model_threads_given ? a.runtime.ort.intra_threads : 0});
  a.server.io_threads = layout.io;
  a.server.decoder_threads = layout.decoders;
  a.runtime.ort.intra_threads = layout.intra_op;
  spdlog::log(layout.oversubscribed ? spdlog::level::warn : spdlog::level::info, "threads: {} -> {}",
              budget.describe(), layout.reason);

  // Allocator tuning before any worker thread exists (glibc arenas are per thread).
  std::string warning;
  spdlog::info("{}", apply_runtime_settings(a.runtime, warning));
  if (!warning.empty()) spdlog::warn("{}", warning);

  a.engine.ort = a.runtime.ort;
  a.server.validate();

  LedgerConfig ledger_cfg;
  ledger_cfg.path = a.memtrace;
  if (a.memtrace_every > 0) ledger_cfg.chunk_every = a.memtrace_every;
  apply_ledger_env(ledger_cfg);
  ledger_cfg.validate();
  auto ledger = MemoryLedger::open_if_enabled(ledger_cfg);

  spdlog::info("loading models ({} CPUs available)", budget.cpus);
  auto engine = load_engine(a.engine);
  auto models = describe_engine(*engine);
  for (const auto& line : models) spdlog::info("model {}", line);
  for (const auto& line : load_warnings(*engine)) spdlog::warn("{}", line);
  if (auto line = purge_after_load(); !line.empty()) spdlog::info("{}", line);
  if (a.runtime.idle_purge.unused_cap_mb < 0) {
    a.runtime.idle_purge.unused_cap_mb = IdlePurgeConfig::auto_cap_mb(read_rss_kb());
    spdlog::info("allocator: unused-page cap {} MiB (a tenth of the loaded RSS, at least 32)",
                 a.runtime.idle_purge.unused_cap_mb);
  }

  Metrics metrics;
  metrics.gauge("paraserve_runtime_info", "Allocator and ONNX Runtime settings in force (labels; value 1)",
                runtime_labels(a.runtime)).set(1);
  server::ServerDeps deps;
  deps.metrics = &metrics;
  deps.ledger = ledger.get();
  deps.models = models;
  deps.handle_signals = true;
  WorkActivity activity;
  deps.activity = &activity;
  // Unused allocator pages go back when no model work has run for a while (or past a cap):
  // never on a decoder thread, never between two calls of a busy server (docs/memory.md).
  std::optional<IdlePurger> purger;
  const bool enabled = a.runtime.idle_purge.idle_ms >= 0 || a.runtime.idle_purge.unused_cap_mb > 0;
  if (enabled && allocator_unused_bytes() >= 0) {
    purger.emplace(a.runtime.idle_purge, activity,
                   IdlePurger::Hooks{.purge = allocator_purge, .unused_bytes = allocator_unused_bytes});
    for (const auto& [reason, name] : {std::pair{PurgeReason::kIdle, "idle"}, std::pair{PurgeReason::kCap, "cap"}})
      metrics.counter_callback("paraserve_allocator_purges_total",
                               "Times the allocator's unused pages were returned to the kernel, by reason",
                               [&p = *purger, r = reason] { return static_cast<double>(p.purges(r)); },
                               {{"reason", name}});
    metrics.gauge_callback("paraserve_allocator_unused_bytes",
                           "Unused pages the allocator keeps resident for reuse (jemalloc dirty + muzzy)",
                           [] { return static_cast<double>(allocator_unused_bytes()); });
  }
  server::Server srv(a.server, server::engine_recognizer_factory(engine), deps);
  srv.start();
  srv.wait();
  spdlog::info("drained; exiting");
  return 0;
}

}  // namespace

void add_serve_command(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<ServeArgs>();
  auto* sub = app.add_subcommand("serve", "FunASR-compatible 2pass WebSocket server (ws/wss + /healthz /readyz /metrics)");
  auto& s = a->server;
  auto& lim = s.limits;
  sub->add_option("--listen-ip", s.listen_ip, "address to listen on")->capture_default_str();
  sub->add_option("--port", s.port, "port (WebSocket and HTTP)")->capture_default_str();
  sub->add_option("--certfile", s.certfile, "TLS certificate chain (PEM); TLS iff non-empty and the file exists");
  sub->add_option("--keyfile", s.keyfile, "TLS private key (PEM)");
  sub->add_option("--io-thread-num", a->io_threads, "network threads (default: ceil(CPU budget / 16))");
  sub->add_option("--decoder-thread-num", a->decoder_threads, "inference threads (default: CPU budget / --model-thread-num)");
  sub->add_option("--vad-dir", a->engine.vad_dir, "FSMN-VAD model directory");
  sub->add_option("--model-dir", a->engine.offline_model_dir,
                  "offline (second pass) Paraformer directory, or SenseVoiceSmall (a path containing 'SenseVoiceSmall')");
  sub->add_option("--online-model-dir", a->engine.online_model_dir, "streaming Paraformer directory");
  sub->add_option("--punc-dir", a->engine.punc_dir, "CT-Transformer punctuation directory");
  sub->add_option("--itn-dir", a->engine.itn_dir,
                  "ITN directory (zh_itn_tagger.fst, zh_itn_verbalizer.fst); applied when a message has itn true");
  sub->add_option("--quantize", a->engine.quantize, "\"true\": load model_quant.onnx")->capture_default_str();
  sub->add_option("--vad-quant", a->engine.vad_quant, "\"true\": load the quantized VAD")->capture_default_str();
  sub->add_option("--punc-quant", a->engine.punc_quant, "\"true\": load the quantized punctuation model")->capture_default_str();
  sub->add_option("--hotword", a->hotword_file,
                  "server hotword file, lines 'phrase weight' (biases the LM search; no effect without --lm-dir)");
  sub->add_option("--lm-dir", a->engine.lm_dir, "n-gram LM directory (TLG.fst, config.yaml, lexicon.txt); NONE = off");
  sub->add_option("--global-beam", a->engine.global_beam, "LM search beam")->capture_default_str();
  sub->add_option("--lattice-beam", a->engine.lattice_beam, "LM lattice beam (no effect on the best path)")
      ->capture_default_str();
  sub->add_option("--am-scale", a->engine.am_scale, "LM search acoustic scale")->capture_default_str();
  sub->add_option("--fst-inc-wts", a->engine.fst_inc_wts, "hotword bias per matched token")->capture_default_str();
  const std::pair<const char*, std::string*> unbuilt[] = {{"--download-model-dir", &a->download_dir}, {"--vad-revision", &a->vad_rev},
                           {"--punc-revision", &a->punc_rev}, {"--itn-revision", &a->itn_rev},
                           {"--lm-revision", &a->lm_rev}, {"--offline-model-revision", &a->offline_rev},
                           {"--online-model-revision", &a->online_rev}};
  for (auto [flag, dst] : unbuilt)
    sub->add_option(flag, *dst, "FunASR flag, accepted and ignored (feature not built)");
  sub->add_option("--max-sessions", lim.max_sessions, "concurrent sessions; beyond: error reply + close")->capture_default_str();
  sub->add_option("--max-text-bytes", lim.max_text_bytes, "largest JSON text message")->capture_default_str();
  sub->add_option("--max-frame-bytes", lim.max_frame_bytes, "largest binary audio message")->capture_default_str();
  sub->add_option("--max-pending-bytes", lim.max_pending_bytes, "undecoded audio per connection before reading pauses")->capture_default_str();
  sub->add_option("--max-outgoing-bytes", lim.max_outgoing_bytes, "queued replies per connection before it is closed")->capture_default_str();
  sub->add_option("--max-session-audio", lim.max_session_audio_s, "seconds of audio per connection (0 = no limit)")->capture_default_str();
  sub->add_option("--idle-timeout", lim.idle_timeout_s, "seconds without client data before closing")->capture_default_str();
  sub->add_option("--handshake-timeout", lim.handshake_timeout_s, "seconds for TLS + WebSocket handshakes")->capture_default_str();
  sub->add_option("--drain-timeout", lim.drain_timeout_s, "SIGTERM/SIGINT: seconds to finish in-flight utterances")->capture_default_str();
  sub->add_option("--second-pass-max-wait-ms", s.second_pass_max_wait_ms,
                  "decoder scheduling: a queued second pass (offline pass of a finished segment) waits behind "
                  "partial (streaming) work at most this long")->capture_default_str();
  sub->add_option("--partial-burst", s.partial_burst,
                  "decoder scheduling: ... or behind at most this many partial tasks in a row")->capture_default_str();
  add_runtime_options(sub, a->runtime, "--model-thread-num");
  sub->add_option("--memtrace", a->memtrace, "write the memory ledger (NDJSON) to this file");
  sub->add_option("--memtrace-every", a->memtrace_every, "ledger: record every Nth chunk");
  sub->add_option("--log-level", a->log_level, "trace|debug|info|warn|error")->capture_default_str();
  sub->callback([a, sub, &exit_code] {
    a->model_threads_given = sub->get_option("--model-thread-num")->count() > 0;
    exit_code = run_serve(*a);
  });
}

}  // namespace paraserve::cli
