#include "server/server_metrics.h"

#include "observability/allocator_stats.h"
#include "observability/process_stats.h"

namespace paraserve::server {
namespace {
std::vector<double> latency_buckets() { return exponential_buckets(0.005, 2.0, 12); }  // 5 ms .. ~10 s
std::vector<double> queue_wait_buckets() { return exponential_buckets(0.001, 2.0, 14); }  // 1 ms .. ~8 s
}  // namespace

ServerMetrics::ServerMetrics(Metrics& m, const std::vector<std::string>& models)
    : sessions_active(m.gauge("paraserve_sessions_active", "WebSocket sessions currently open")),
      sessions_total(m.counter("paraserve_sessions_total", "WebSocket sessions admitted")),
      sessions_rejected(m.counter("paraserve_sessions_rejected_total",
                                  "WebSocket sessions refused (at --max-sessions or draining)")),
      protocol_errors(m.counter("paraserve_protocol_errors_total", "Error replies sent to clients")),
      slow_clients(m.counter("paraserve_slow_client_closes_total",
                             "Connections closed because their outgoing queue exceeded --max-outgoing-bytes")),
      utterances(m.counter("paraserve_utterances_total", "End-of-stream (is_final) replies sent")),
      audio_ms(m.counter("paraserve_audio_processed_milliseconds_total", "Audio decoded, in milliseconds")),
      rtf(m.histogram("paraserve_stream_rtf", "Per-utterance real-time factor (compute time / audio time)",
                      {0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 5.0})),
      partial_latency(m.histogram("paraserve_partial_latency_seconds",
                                  "Audio batch arrival to its 2pass-online/offline reply being queued",
                                  latency_buckets())),
      final_latency(m.histogram("paraserve_final_latency_seconds",
                                "End-of-stream message arrival to the is_final reply being queued",
                                latency_buckets())),
      work_queue_depth(m.gauge("paraserve_work_queue_depth", "Audio batches waiting for a decoder thread")),
      queue_wait{&m.histogram("paraserve_work_queue_wait_seconds",
                              "Time a decoder task waited in the scheduler's queue, by class (partial: audio "
                              "feeding and the online pass; second_pass: a finished segment's offline pass)",
                              queue_wait_buckets(), {{"class", "partial"}}),
                 &m.histogram("paraserve_work_queue_wait_seconds",
                              "Time a decoder task waited in the scheduler's queue, by class (partial: audio "
                              "feeding and the online pass; second_pass: a finished segment's offline pass)",
                              queue_wait_buckets(), {{"class", "second_pass"}})} {
  m.gauge_callback("paraserve_process_resident_bytes", "Resident set size of the process",
                   [] { return static_cast<double>(read_rss_kb()) * 1024.0; });
  m.gauge_callback("paraserve_allocator_allocated_bytes", "Heap bytes allocated (allocator's own figure)",
                   [] { return static_cast<double>(read_allocator_stats().allocated); });
  m.gauge_callback("paraserve_allocator_resident_bytes", "Heap bytes resident (allocator's own figure)",
                   [] { return static_cast<double>(read_allocator_stats().resident); });
  for (const auto& line : models) {
    auto colon = line.find(':');
    const std::string kind = colon == std::string::npos ? line : line.substr(0, colon);
    const std::string path = colon == std::string::npos ? "" : line.substr(colon + 1);
    m.gauge("paraserve_model_loaded", "Models loaded at start-up (1 per model)",
            {{"model", kind}, {"file", path.empty() || path[0] != ' ' ? path : path.substr(1)}})
        .set(1.0);
  }
}

}  // namespace paraserve::server
