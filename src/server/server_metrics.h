// The server's Prometheus metrics, registered once in the server-owned registry. Updates
// are single atomic operations (observability/metrics.h), safe from any thread.
#pragma once
#include <string>
#include <vector>

#include "observability/metrics.h"

namespace paraserve::server {

struct ServerMetrics {
  // `models`: one line per loaded model (describe_engine), exported as info gauges.
  ServerMetrics(Metrics& registry, const std::vector<std::string>& models);

  Gauge& sessions_active;      // paraserve_sessions_active
  Counter& sessions_total;     // paraserve_sessions_total (admitted)
  Counter& sessions_rejected;  // paraserve_sessions_rejected_total (capacity or draining)
  Counter& protocol_errors;    // paraserve_protocol_errors_total (error replies sent)
  Counter& slow_clients;       // paraserve_slow_client_closes_total (outgoing queue overflow)
  Counter& utterances;         // paraserve_utterances_total (final replies)
  Counter& audio_ms;           // paraserve_audio_processed_milliseconds_total
  Histogram& rtf;              // paraserve_stream_rtf: compute time / audio time per utterance
  Histogram& partial_latency;  // paraserve_partial_latency_seconds
  Histogram& final_latency;    // paraserve_final_latency_seconds
  Gauge& work_queue_depth;     // paraserve_work_queue_depth: audio batches waiting for a worker
  // paraserve_work_queue_wait_seconds{class="partial"|"second_pass"}: a decoder task's wait in
  // the scheduler's queue (WorkScheduler), indexed by WorkClass.
  Histogram* queue_wait[2];
};

}  // namespace paraserve::server
