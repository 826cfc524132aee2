#include "server/config.h"

#include <filesystem>

#include "common/error.h"

namespace paraserve::server {

void ServerLimits::validate() const {
  auto need = [](bool ok, const char* flag, const char* what) {
    if (!ok) throw Error(std::string("--") + flag + ": expected " + what);
  };
  need(max_sessions >= 1, "max-sessions", "an integer >= 1");
  need(max_text_bytes >= 256, "max-text-bytes", "at least 256 bytes");
  need(max_frame_bytes >= 2, "max-frame-bytes", "at least 2 bytes");
  need(max_pending_bytes >= 1600, "max-pending-bytes", "at least 1600 bytes (one 50 ms piece)");
  need(max_outgoing_bytes >= 4096, "max-outgoing-bytes", "at least 4096 bytes");
  need(max_session_audio_s >= 0, "max-session-audio", "seconds >= 0 (0 = no limit)");
  need(idle_timeout_s >= 1, "idle-timeout", "seconds >= 1");
  need(handshake_timeout_s >= 1, "handshake-timeout", "seconds >= 1");
  need(drain_timeout_s >= 0, "drain-timeout", "seconds >= 0");
}

bool ServerConfig::tls_enabled() const {
  std::error_code ec;
  return !certfile.empty() && std::filesystem::is_regular_file(certfile, ec);
}

void ServerConfig::validate() const {
  if (io_threads < 1) throw Error("--io-thread-num: expected an integer >= 1");
  if (decoder_threads < 1) throw Error("--decoder-thread-num: expected an integer >= 1");
  if (second_pass_max_wait_ms < 0) throw Error("--second-pass-max-wait-ms: expected milliseconds >= 0");
  if (partial_burst < 1) throw Error("--partial-burst: expected an integer >= 1");
  if (tls_enabled()) {
    std::error_code ec;
    if (keyfile.empty() || !std::filesystem::is_regular_file(keyfile, ec))
      throw Error("--keyfile: '" + keyfile + "' does not exist (TLS is on because --certfile '" + certfile +
                  "' exists)");
  }
  limits.validate();
}

}  // namespace paraserve::server
