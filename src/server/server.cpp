#include "server/server.h"

#include <pthread.h>

#include <algorithm>
#include <array>
#include <csignal>
#include <cstdio>
#include <optional>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <spdlog/spdlog.h>

#include "common/error.h"
#include "observability/metrics.h"
#include "server/connection.h"

namespace paraserve::server {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

HttpReply http_endpoint(const std::string& method, const std::string& target, const HealthState& h,
                        const Metrics* metrics) {
  HttpReply r;
  const std::string path = target.substr(0, target.find('?'));
  if (method != "GET" && method != "HEAD") {
    r.status = 405;
    r.body = "method not allowed: only GET /healthz, /readyz, /metrics and WebSocket upgrades\n";
    return r;
  }
  if (path == "/healthz") {
    r.status = 200;
    r.body = "ok\n";
  } else if (path == "/readyz") {
    if (h.draining) {
      r.status = 503;
      r.body = "draining\n";
    } else if (h.active >= h.max_sessions) {
      r.status = 503;
      r.body = "at capacity (" + std::to_string(h.active) + "/" + std::to_string(h.max_sessions) + " sessions)\n";
    } else {
      r.status = 200;
      r.body = "ready (" + std::to_string(h.active) + "/" + std::to_string(h.max_sessions) + " sessions)\n";
    }
  } else if (path == "/metrics") {
    r.status = 200;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = metrics ? metrics->render_prometheus() : std::string();
  } else {
    r.status = 404;
    r.body = "not found: " + path + " (endpoints: /healthz /readyz /metrics, or a WebSocket upgrade)\n";
  }
  return r;
}

namespace {

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// The transport of one WebSocket session: reads frames, hands them to the core, writes replies.
//
// Memory per connection is bounded by a small budget (docs/server.md, "Memory budget"):
// messages are read in pieces of at most kReadPiece bytes; a binary piece goes straight to
// the core's audio inbox (bounded by --max-pending-bytes with TCP backpressure), a text
// message is assembled up to --max-text-bytes, and queued replies are bounded by
// --max-outgoing-bytes. A peer that announces a large frame and stalls holds one piece.
template <class Stream>
class WsConnection final : public ConnectionCore {
 public:
  WsConnection(ServerContext& ctx, Stream&& stream)
      : ConnectionCore(ctx, stream.get_executor()), ws_(std::move(stream)), timer_(ws_.get_executor()) {}

  void start(http::request<http::string_body> req) {
    const auto& lim = ctx_.config.limits;
    websocket::stream_base::timeout t;
    t.handshake_timeout = std::chrono::seconds(lim.handshake_timeout_s);  // opening and closing handshakes
    t.idle_timeout = websocket::stream_base::none();  // our own timer: it sends a close frame
    t.keep_alive_pings = false;  // FunASR clients never ping; idle means no data from the client
    ws_.set_option(t);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "paraserve"); }));
    // Message sizes are enforced here, piece by piece, so that an oversized message gets an
    // error reply before the close (Beast's own limit would close with a bare 1009).
    ws_.read_message_max(0);
    ws_.auto_fragment(false);
    beast::get_lowest_layer(ws_).expires_never();  // the websocket stream runs its own timers
    ws_.async_accept(req, [self = self_ptr()](beast::error_code ec) {
      if (ec) return;
      if (self->admit()) {
        self->last_input_ = Clock::now();
        self->arm_timer_at(self->last_input_ + std::chrono::seconds(self->ctx_.config.limits.idle_timeout_s));
        self->read();
      }
    });
  }

  void send(std::string message) override {
    if (closing_hard_ || close_sent_ || socket_done_) return;
    out_bytes_ += message.size();
    if (out_bytes_ > ctx_.config.limits.max_outgoing_bytes) {
      ctx_.log_slow.log(spdlog::level::warn, "closing a client that does not read its replies ({} bytes queued)",
                        out_bytes_);
      if (ctx_.metrics) ctx_.metrics->slow_clients.inc();
      force_close();
      return;
    }
    out_.push_back(std::move(message));
    if (!writing_) write_next();
  }

  void close_after_flush(CloseCode code) override {
    if (close_code_ || closing_hard_) return;
    close_code_ = code;
    // The close must finish within the handshake timeout even if the peer reads nothing.
    arm_timer_at(Clock::now() + std::chrono::seconds(ctx_.config.limits.handshake_timeout_s));
    if (!writing_) write_next();
  }

  void force_close() override {
    if (closing_hard_) return;
    closing_hard_ = true;
    on_socket_closed();
    // A write in flight still uses the front message until its handler runs.
    out_.erase(writing_ && !out_.empty() ? out_.begin() + 1 : out_.begin(), out_.end());
    out_bytes_ = 0;
    beast::error_code ec;
    timer_.cancel();
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(ws_).close();
  }

  void resume_reading() override {
    read_paused_ = false;
    read();
  }

 private:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kReadPiece = 16 * 1024;

  std::shared_ptr<WsConnection> self_ptr() { return std::static_pointer_cast<WsConnection>(shared_from_this()); }

  // One timer per connection: the idle timeout while open, the close deadline once closing.
  // Re-arming cancels the previous wait (its handler sees operation_aborted).
  void arm_timer_at(Clock::time_point at) {
    timer_deadline_ = at;
    timer_.expires_at(at);
    timer_.async_wait([self = self_ptr()](beast::error_code ec) { self->on_timer(ec); });
  }

  void on_timer(beast::error_code ec) {
    if (ec || closing_hard_ || socket_done_) return;
    const auto now = Clock::now();
    if (close_code_) {
      if (now >= timer_deadline_) return force_close();  // the peer did not finish the close
      return arm_timer_at(timer_deadline_);
    }
    const auto idle = std::chrono::seconds(ctx_.config.limits.idle_timeout_s);
    // Idle counts while we wait for the client, not while reading is paused because the
    // decoder is behind (backpressure).
    if (read_paused_ || awaiting_final()) last_input_ = now;
    if (now - last_input_ >= idle) {
      fail("idle for " + std::to_string(ctx_.config.limits.idle_timeout_s) +
               " s with no data from the client (--idle-timeout)",
           CloseCode::kGoingAway);
      return;
    }
    arm_timer_at(last_input_ + idle);
  }

  void read() {
    if (reading_ || read_paused_ || closing_hard_ || close_code_ || socket_done_) return;
    // After an end of stream, wait until its final reply has been written before reading
    // on: if the client half-closed its side, reading the end of file would fail the stream
    // and the replies still owed could no longer be written.
    if (awaiting_final()) {
      hold_for_final_ = true;
      return;
    }
    if (hold_for_final_) {
      if (writing_ || !out_.empty()) return;
      hold_for_final_ = false;
    }
    reading_ = true;
    ws_.async_read_some(in_, kReadPiece, [self = self_ptr()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    reading_ = false;
    last_input_ = Clock::now();
    if (ec) {
      socket_done_ = true;
      timer_.cancel();
      on_socket_closed();
      return;
    }
    if (close_code_ || closing_hard_) {  // closing: input after that is not processed
      in_.consume(in_.size());
      return;
    }
    const auto data = in_.cdata();
    const auto* bytes = static_cast<const uint8_t*>(data.data());
    const std::size_t n = data.size();
    const bool done = ws_.is_message_done();
    bool keep_reading = true;
    const auto& lim = ctx_.config.limits;
    message_bytes_ += n;
    if (ws_.got_text()) {
      if (message_bytes_ > lim.max_text_bytes) {
        fail("text message larger than --max-text-bytes (" + std::to_string(lim.max_text_bytes) + " bytes)",
             CloseCode::kTooBig);
        keep_reading = false;
      } else {
        text_.append(reinterpret_cast<const char*>(bytes), n);
        if (done) {
          on_text(text_);
          text_.clear();
          if (text_.capacity() > 4096) std::string().swap(text_);  // a large message does not stay parked
        }
      }
    } else if (message_bytes_ > lim.max_frame_bytes) {
      fail("binary message larger than --max-frame-bytes (" + std::to_string(lim.max_frame_bytes) + " bytes)",
           CloseCode::kTooBig);
      keep_reading = false;
    } else {
      keep_reading = on_binary(std::span<const uint8_t>(bytes, n));
      if (!keep_reading && !close_code_) read_paused_ = true;  // backpressure; the worker resumes us
    }
    if (done) message_bytes_ = 0;
    in_.consume(in_.size());
    if (keep_reading) read();  // once closing, beast's close operation reads the reply
  }

  void write_next() {
    if (closing_hard_ || close_sent_) return;
    if (!out_.empty()) {
      writing_ = true;
      ws_.text(true);
      ws_.async_write(net::buffer(out_.front()), [self = self_ptr()](beast::error_code ec, std::size_t) {
        self->writing_ = false;
        if (ec || self->closing_hard_) {
          self->socket_done_ = true;
          self->out_.clear();
          self->on_socket_closed();
          return;
        }
        self->out_bytes_ -= self->out_.front().size();
        self->out_.pop_front();
        self->write_next();
      });
      return;
    }
    if (close_code_) {
      close_sent_ = true;
      writing_ = true;
      ws_.async_close(websocket::close_reason(static_cast<uint16_t>(*close_code_)),
                      [self = self_ptr()](beast::error_code) {
                        self->writing_ = false;
                        self->socket_done_ = true;
                        self->timer_.cancel();
                        self->on_socket_closed();
                      });
      return;
    }
    read();  // a read held back for a final reply may go on now
  }

  websocket::stream<Stream> ws_;
  net::steady_timer timer_;
  Clock::time_point timer_deadline_{}, last_input_{};
  bool timer_armed_ = false;
  beast::flat_buffer in_;
  std::string text_;               // the text message being assembled (<= --max-text-bytes)
  std::size_t message_bytes_ = 0;  // bytes of the current message so far
  std::deque<std::string> out_;
  std::size_t out_bytes_ = 0;
  bool reading_ = false;
  bool hold_for_final_ = false;
  bool writing_ = false;
  bool read_paused_ = false;
  bool close_sent_ = false;
  bool closing_hard_ = false;
  bool socket_done_ = false;
  std::optional<CloseCode> close_code_;
};

// Reads the first HTTP request of a connection: a WebSocket upgrade or a health/metrics GET.
template <class Stream>
class HttpSession : public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  HttpSession(ServerContext& ctx, const Metrics* metrics, Stream&& stream)
      : ctx_(ctx), metrics_(metrics), stream_(std::move(stream)) {}

  void run() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(ctx_.config.limits.handshake_timeout_s));
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      stream_.async_handshake(ssl::stream_base::server, [self = this->shared_from_this()](beast::error_code ec) {
        if (!ec) self->read_request();
      });
    } else {
      read_request();
    }
  }

 private:
  void read_request() {
    parser_.emplace();
    parser_->header_limit(16 * 1024);
    parser_->body_limit(4096);
    http::async_read(stream_, buf_, *parser_, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      if (!ec) return self->on_request();
      // A request that is not HTTP (garbage, a TLS hello on the plain port) gets a 4xx;
      // a timeout or a peer that went away gets nothing.
      if (&ec.category() != &http::make_error_code(http::error::bad_method).category() ||
          ec == http::error::end_of_stream || ec == http::error::partial_message)
        return;
      const int status = ec == http::error::header_limit ? 431 : ec == http::error::body_limit ? 413 : 400;
      self->reply_error(status, "bad request: " + ec.message() + "\n");
    });
  }

  void reply_error(int status, std::string body) {
    res_.emplace();
    res_->version(11);
    res_->result(static_cast<http::status>(status));
    res_->set(http::field::server, "paraserve");
    res_->set(http::field::content_type, "text/plain; charset=utf-8");
    res_->keep_alive(false);
    res_->body() = std::move(body);
    res_->prepare_payload();
    finish_write();
  }

  void finish_write() {
    http::async_write(stream_, *res_, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return;
      // Half-close, then discard what the client still sends (bounded by the timer) so that
      // closing with unread input does not reset the connection before it read the reply.
      beast::get_lowest_layer(self->stream_).socket().shutdown(tcp::socket::shutdown_send, ec);
      beast::get_lowest_layer(self->stream_).expires_after(std::chrono::seconds(2));
      self->discard_input();
    });
  }

  void discard_input() {
    beast::get_lowest_layer(stream_).async_read_some(
        net::buffer(sink_), [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
          if (!ec) self->discard_input();
        });
  }

  void on_request() {
    auto req = parser_->release();
    if (websocket::is_upgrade(req)) {
      auto conn = std::make_shared<WsConnection<Stream>>(ctx_, std::move(stream_));
      conn->start(std::move(req));
      return;
    }
    HealthState h;
    {
      std::lock_guard lock(ctx_.mu);
      h.draining = ctx_.draining;
      h.active = ctx_.sessions.size();
    }
    h.max_sessions = static_cast<std::size_t>(ctx_.config.limits.max_sessions);
    const HttpReply r = http_endpoint(std::string(req.method_string()), std::string(req.target()), h, metrics_);
    res_.emplace();
    res_->version(req.version());
    res_->result(static_cast<http::status>(r.status));
    res_->set(http::field::server, "paraserve");
    res_->set(http::field::content_type, r.content_type);
    res_->keep_alive(false);
    res_->body() = req.method() == http::verb::head ? std::string() : r.body;
    res_->prepare_payload();
    if (req.method() == http::verb::head) res_->content_length(r.body.size());
    finish_write();
  }

  ServerContext& ctx_;
  const Metrics* metrics_;
  Stream stream_;
  beast::flat_buffer buf_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> res_;
  std::array<char, 512> sink_{};
};

}  // namespace

// ---------------------------------------------------------------- Server

// An io_context whose shutdown (destroying every queued handler, services kept alive) can be
// run before it is destroyed. A connection holds an executor of `io` (its socket strand), so
// the connections still queued in the decoder scheduler are released while `io`'s services
// exist (~Impl: the scheduler is stopped first).
struct ServerIoContext : net::io_context {
  using net::io_context::shutdown;
};

struct Server::Impl {
  ServerContext ctx;               // outlives both io_contexts (connections release into it)
  Metrics own_metrics;
  Metrics* registry = nullptr;
  std::optional<ServerMetrics> metrics;
  ServerDeps deps;
  std::optional<ssl::context> tls;
  ServerIoContext io;
  std::optional<WorkScheduler> work;  // decoder threads; stopped before `io` is shut down (~Impl)
  std::optional<tcp::acceptor> acceptor;
  std::optional<net::steady_timer> accept_timer;
  std::optional<net::signal_set> signals;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> io_guard;
  std::vector<std::thread> threads;
  std::mutex state_mu;
  bool started = false, stopped = false;

  ~Impl() {
    // Threads are joined by Server::stop(). Release the connections still queued for a
    // decoder, then destroy every leftover I/O handler, while `io`'s services are alive.
    if (work) work->stop();
    io.shutdown();
  }

  // After a failed accept (EMFILE: out of file descriptors, ENFILE, ENOBUFS, ...) the next
  // one waits, 50 ms doubling to 1 s, so that a condition that persists costs no CPU;
  // the pending connections wait in the listen backlog meanwhile.
  static constexpr std::chrono::milliseconds kAcceptBackoffMin{50}, kAcceptBackoffMax{1000};
  std::chrono::milliseconds accept_backoff{0};

  void accept() {
    acceptor->async_accept(net::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec == net::error::operation_aborted || !acceptor || !acceptor->is_open()) return;
        accept_backoff = accept_backoff.count() == 0 ? kAcceptBackoffMin : std::min(2 * accept_backoff, kAcceptBackoffMax);
        ctx.log_accept.log(spdlog::level::warn, "accept failed: {}; retrying in {} ms", ec.message(),
                           accept_backoff.count());
        accept_timer->expires_after(accept_backoff);
        accept_timer->async_wait([this](beast::error_code e) {
          if (!e && acceptor && acceptor->is_open()) accept();
        });
        return;
      }
      accept_backoff = std::chrono::milliseconds(0);
      {
        socket.set_option(tcp::no_delay(true), ec);
        if (tls) {
          std::make_shared<HttpSession<TlsStream>>(ctx, registry, TlsStream(beast::tcp_stream(std::move(socket)), *tls))
              ->run();
        } else {
          std::make_shared<HttpSession<PlainStream>>(ctx, registry, PlainStream(std::move(socket)))->run();
        }
      }
      if (acceptor && acceptor->is_open()) accept();
    });
  }

  // All sessions currently registered (taken under the registry lock; drain/stop only).
  std::vector<std::shared_ptr<ConnectionCore>> live_sessions() {
    std::vector<std::shared_ptr<ConnectionCore>> out;
    std::lock_guard lock(ctx.mu);
    for (auto& [id, weak] : ctx.sessions)
      if (auto s = weak.lock()) out.push_back(std::move(s));
    return out;
  }
};

Server::Server(ServerConfig config, RecognizerFactory factory, ServerDeps deps) : impl_(std::make_unique<Impl>()) {
  config.validate();
  impl_->ctx.config = std::move(config);
  impl_->ctx.factory = std::move(factory);
  impl_->deps = std::move(deps);
  impl_->registry = impl_->deps.metrics ? impl_->deps.metrics : &impl_->own_metrics;
  impl_->metrics.emplace(*impl_->registry, impl_->deps.models);
  impl_->ctx.metrics = &*impl_->metrics;
  const ServerConfig& cfg = impl_->ctx.config;
  impl_->work.emplace(SchedulerPolicy{.second_pass_max_wait = std::chrono::milliseconds(cfg.second_pass_max_wait_ms),
                                      .partial_burst = cfg.partial_burst},
                      impl_->metrics->queue_wait);
  impl_->ctx.scheduler = &*impl_->work;
  impl_->ctx.ledger = impl_->deps.ledger;
  impl_->ctx.activity = impl_->deps.activity;
}

Server::~Server() { stop(); }

uint16_t Server::start() {
  Impl& m = *impl_;
  const ServerConfig& cfg = m.ctx.config;
  if (cfg.tls_enabled()) {
    // Like FunASR: TLS with SSLv2/SSLv3 off and single DH use; cert chain + PEM key.
    m.tls.emplace(ssl::context::tls_server);
    m.tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::single_dh_use);
    beast::error_code ec;
    m.tls->use_certificate_chain_file(cfg.certfile, ec);
    if (ec) throw Error("--certfile: cannot load certificate chain '" + cfg.certfile + "': " + ec.message());
    m.tls->use_private_key_file(cfg.keyfile, ssl::context::pem, ec);
    if (ec) throw Error("--keyfile: cannot load PEM private key '" + cfg.keyfile + "': " + ec.message());
  }
  // Readiness is honest: a server that cannot build a session for the default settings
  // refuses to start (a missing model) instead of answering /readyz 200 and failing every
  // connection with "decoding failed".
  try {
    m.ctx.factory(session_options(UtteranceSettings{}, Mode::kTwoPass));
  } catch (const std::exception& e) {
    throw Error(std::string("cannot serve: ") + e.what());
  }
  beast::error_code ec;
  const auto addr = net::ip::make_address(cfg.listen_ip, ec);
  if (ec) throw Error("--listen-ip: '" + cfg.listen_ip + "' is not an IP address");
  tcp::endpoint ep(addr, cfg.port);
  m.acceptor.emplace(m.io);
  m.accept_timer.emplace(m.io);
  m.acceptor->open(ep.protocol(), ec);
  if (!ec) m.acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) m.acceptor->bind(ep, ec);
  if (!ec) m.acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) throw Error("cannot listen on " + cfg.listen_ip + ":" + std::to_string(cfg.port) + ": " + ec.message());
  const uint16_t port = m.acceptor->local_endpoint().port();

  if (m.deps.handle_signals) {
    m.signals.emplace(m.io, SIGINT, SIGTERM);
    m.signals->async_wait([this](beast::error_code e, int sig) {
      if (e) return;
      spdlog::info("signal {}: draining (up to {} s)", sig, impl_->ctx.config.limits.drain_timeout_s);
      drain();
    });
  }
  m.io_guard.emplace(m.io.get_executor());
  m.accept();
  // Named so that per-thread CPU time (top -H, /proc/<pid>/task/*/comm) shows the layout.
  auto name_thread = [](const char* role, int i) {
    char name[16];
    std::snprintf(name, sizeof name, "ps-%s-%d", role, i);
    ::pthread_setname_np(::pthread_self(), name);
  };
  for (int i = 0; i < cfg.io_threads; ++i)
    m.threads.emplace_back([&m, name_thread, i] {
      name_thread("io", i);
      m.io.run();
    });
  m.work->start(cfg.decoder_threads);  // named ps-dec-<i>
  {
    std::lock_guard lock(m.state_mu);
    m.started = true;
  }
  spdlog::info("listening on {}://{}:{} ({} I/O threads, {} decoder threads; second passes wait <= {} ms or {} "
               "partial tasks)", m.tls ? "wss" : "ws", cfg.listen_ip, port, cfg.io_threads, cfg.decoder_threads,
               cfg.second_pass_max_wait_ms, cfg.partial_burst);
  return port;
}

void Server::drain() {
  Impl& m = *impl_;
  {
    std::lock_guard lock(m.ctx.mu);
    if (m.ctx.draining) return;
    m.ctx.draining = true;
    m.ctx.cv.notify_all();  // wait() starts the drain deadline now
  }
  net::post(m.io, [&m] {
    beast::error_code ec;
    if (m.acceptor) m.acceptor->close(ec);
    if (m.accept_timer) m.accept_timer->cancel(ec);
    if (m.signals) m.signals->cancel(ec);
  });
  for (auto& s : m.live_sessions()) net::post(s->io_executor(), [s] { s->begin_drain(); });
}

void Server::wait() {
  Impl& m = *impl_;
  {
    std::unique_lock lock(m.ctx.mu);
    m.ctx.cv.wait(lock, [&] { return m.ctx.draining || m.stopped; });
    // Sessions that are still open shortly before the deadline get their queued replies
    // and a close 1001; at the deadline whatever is left is dropped and we return.
    const auto timeout = std::chrono::milliseconds(1000LL * m.ctx.config.limits.drain_timeout_s);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    const auto grace = std::min<std::chrono::milliseconds>(std::chrono::milliseconds(1000), timeout / 4);
    auto done = [&] { return m.ctx.sessions.empty() || m.stopped; };
    if (!m.ctx.cv.wait_until(lock, deadline - grace, done)) {
      lock.unlock();
      auto left = m.live_sessions();
      spdlog::warn("drain timeout: closing {} remaining session(s)", left.size());
      for (auto& s : left) net::post(s->io_executor(), [s] { s->drain_deadline(); });
      left.clear();
      lock.lock();
      if (!m.ctx.cv.wait_until(lock, deadline, done)) {
        lock.unlock();
        for (auto& s : m.live_sessions()) net::post(s->io_executor(), [s] { s->force_close(); });
        lock.lock();
        m.ctx.cv.wait_for(lock, std::chrono::milliseconds(100), done);
      }
    }
  }
  stop();
}

void Server::stop() {
  Impl& m = *impl_;
  {
    std::lock_guard lock(m.ctx.mu);
    m.stopped = true;
    m.ctx.cv.notify_all();
  }
  std::lock_guard lock(m.state_mu);
  if (!m.started) return;
  m.started = false;
  m.io_guard.reset();
  m.work->stop();
  m.io.stop();
  for (auto& t : m.threads)
    if (t.joinable()) t.join();
  m.threads.clear();
}

std::size_t Server::active_sessions() const {
  std::lock_guard lock(impl_->ctx.mu);
  return impl_->ctx.sessions.size();
}

bool Server::draining() const {
  std::lock_guard lock(impl_->ctx.mu);
  return impl_->ctx.draining;
}

}  // namespace paraserve::server
