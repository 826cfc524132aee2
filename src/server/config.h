// Server configuration: where to listen, TLS, threads and the per-connection limits.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace paraserve::server {

// Every limit protects the server from one client; all are flags of `paraserve serve`
// (defaults documented in docs/server.md).
struct ServerLimits {
  int max_sessions = 256;                      // concurrent WebSocket sessions
  std::size_t max_text_bytes = 64 * 1024;      // one JSON text message
  std::size_t max_frame_bytes = 1 << 20;       // one binary audio message
  std::size_t max_pending_bytes = 256 << 10;   // queued, not yet decoded audio; reading pauses above it
  std::size_t max_outgoing_bytes = 256 << 10;  // queued replies; a client that stops reading is closed
  double max_session_audio_s = 4 * 3600.0;     // decoded audio per connection, all utterances; 0 = no limit
  int idle_timeout_s = 300;                    // no data from the client for this long -> close
  int handshake_timeout_s = 10;                // TLS + HTTP/WebSocket handshake
  int drain_timeout_s = 30;                    // SIGTERM: time left for in-flight utterances

  void validate() const;  // throws paraserve::Error naming the flag
};

struct ServerConfig {
  std::string listen_ip = "0.0.0.0";
  uint16_t port = 10095;   // 0 = pick a free port (tests)
  std::string certfile;    // TLS iff non-empty and the file exists (FunASR's rule)
  std::string keyfile;
  int io_threads = 1;
  int decoder_threads = 1;
  // Decoder task scheduling (WorkScheduler): partial work goes first; a second pass waits at
  // most this long, or behind at most this many partial tasks in a row (docs/server.md).
  int second_pass_max_wait_ms = 0;  // 0: second passes are not deferred (docs/server.md, Decoder scheduling)
  int partial_burst = 8;
  ServerLimits limits;

  bool tls_enabled() const;
  void validate() const;  // throws paraserve::Error naming the flag
};

}  // namespace paraserve::server
