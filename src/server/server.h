// The 2pass WebSocket server: Boost.Beast over Asio, plain ws or wss, with HTTP health
// endpoints on the same port. Threads: `io_threads` run the sockets; `decoder_threads`
// run inference (WorkScheduler: partial work before second passes, each connection's tasks
// one at a time and in order); replies are written back on the connection's socket strand.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "server/config.h"
#include "server/recognizer.h"

namespace paraserve {
class Metrics;
class MemoryLedger;
struct WorkActivity;
}  // namespace paraserve

namespace paraserve::server {

// Optional collaborators; all may be null / empty.
struct ServerDeps {
  Metrics* metrics = nullptr;        // registry rendered at GET /metrics (the server registers its series)
  MemoryLedger* ledger = nullptr;    // memory ledger (--memtrace)
  WorkActivity* activity = nullptr;  // counts decode tasks (the idle purger watches it)
  std::vector<std::string> models;   // describe_engine() lines, exported as paraserve_model_loaded
  bool handle_signals = false;       // SIGTERM/SIGINT start a drain
};

class Server {
 public:
  Server(ServerConfig config, RecognizerFactory factory, ServerDeps deps = {});
  ~Server();  // stops everything (no drain)
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts the threads. Returns the bound port. Throws paraserve::Error
  // (address in use, bad TLS files, ...).
  uint16_t start();
  // Thread-safe, idempotent: stop accepting, let each session finish its current utterance
  // and deliver its replies, close idle sessions; after drain_timeout_s close the rest.
  void drain();
  // Blocks until a drain has completed (or stop() was called), then joins the threads.
  void wait();
  // Immediate stop without draining.
  void stop();

  std::size_t active_sessions() const;
  bool draining() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// HTTP endpoints served on the WebSocket port (exposed for unit tests).
struct HttpReply {
  int status = 404;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};
struct HealthState {
  bool draining = false;
  std::size_t active = 0;
  std::size_t max_sessions = 0;
};
HttpReply http_endpoint(const std::string& method, const std::string& target, const HealthState& health,
                        const Metrics* metrics);

}  // namespace paraserve::server
