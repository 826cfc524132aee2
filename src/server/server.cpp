#include "server/server.h"

#include <algorithm>
#include <csignal>
#include <optional>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
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
template <class Stream>
class WsConnection final : public ConnectionCore {
 public:
  WsConnection(ServerContext& ctx, Stream&& stream)
      : ConnectionCore(ctx, stream.get_executor()), ws_(std::move(stream)) {}

  void start(http::request<http::string_body> req) {
    const auto& lim = ctx_.config.limits;
    websocket::stream_base::timeout t;
    t.handshake_timeout = std::chrono::seconds(lim.handshake_timeout_s);
    t.idle_timeout = std::chrono::seconds(lim.idle_timeout_s);
    t.keep_alive_pings = false;  // FunASR clients never ping; idle means no data from the client
    ws_.set_option(t);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "paraserve"); }));
    // Twice the largest limit: messages up to that size get a clear error reply before the
    // close; beyond it Beast closes with 1009 on its own.
    ws_.read_message_max(2 * std::max(lim.max_text_bytes, lim.max_frame_bytes));
    ws_.auto_fragment(false);
    beast::get_lowest_layer(ws_).expires_never();  // the websocket stream runs its own timers
    ws_.async_accept(req, [self = self_ptr()](beast::error_code ec) {
      if (ec) return;
      if (self->admit()) self->read();
    });
  }

  void send(std::string message) override {
    if (closing_hard_) return;
    out_bytes_ += message.size();
    if (out_bytes_ > ctx_.config.limits.max_outgoing_bytes) {
      spdlog::warn("closing a client that does not read its replies ({} bytes queued)", out_bytes_);
      if (ctx_.metrics) ctx_.metrics->slow_clients.inc();
      force_close();
      return;
    }
    out_.push_back(std::move(message));
    if (!writing_) write_next();
  }

  void close_after_flush(CloseCode code) override {
    if (close_code_) return;
    close_code_ = code;
    if (!writing_) write_next();
  }

  void force_close() override {
    if (closing_hard_) return;
    closing_hard_ = true;
    on_socket_closed();
    out_.clear();
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(ws_).close();
  }

  void resume_reading() override {
    if (read_paused_ && !closing_hard_) {
      read_paused_ = false;
      read();
    }
  }

 private:
  std::shared_ptr<WsConnection> self_ptr() { return std::static_pointer_cast<WsConnection>(shared_from_this()); }

  void read() {
    if (closing_hard_ || close_sent_) return;
    ws_.async_read(in_, [self = self_ptr()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec) {
      if (ec == websocket::error::message_too_big && !close_code_) {
        // Beast has already failed the stream; report and drop the socket.
        if (ctx_.metrics) ctx_.metrics->protocol_errors.inc();
      }
      on_socket_closed();
      return;
    }
    const auto data = in_.cdata();
    const auto* bytes = static_cast<const uint8_t*>(data.data());
    bool keep_reading = true;
    if (ws_.got_text()) {
      if (data.size() > ctx_.config.limits.max_text_bytes) {
        fail("text message of " + std::to_string(data.size()) + " bytes exceeds --max-text-bytes " +
                 std::to_string(ctx_.config.limits.max_text_bytes),
             CloseCode::kTooBig);
        keep_reading = false;
      } else {
        on_text(std::string_view(reinterpret_cast<const char*>(bytes), data.size()));
      }
    } else if (data.size() > ctx_.config.limits.max_frame_bytes) {
      fail("binary message of " + std::to_string(data.size()) + " bytes exceeds --max-frame-bytes " +
               std::to_string(ctx_.config.limits.max_frame_bytes),
           CloseCode::kTooBig);
      keep_reading = false;
    } else {
      keep_reading = on_binary(std::span<const uint8_t>(bytes, data.size()));
      if (!keep_reading && !close_code_) read_paused_ = true;  // backpressure; the worker resumes us
    }
    in_.consume(in_.size());
    if (keep_reading && !close_code_) read();  // once closing, beast's close operation reads the reply
  }

  void write_next() {
    if (closing_hard_ || close_sent_) return;
    if (!out_.empty()) {
      writing_ = true;
      ws_.text(true);
      ws_.async_write(net::buffer(out_.front()), [self = self_ptr()](beast::error_code ec, std::size_t) {
        self->writing_ = false;
        if (ec) {
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
                        self->on_socket_closed();
                      });
    }
  }

  websocket::stream<Stream> ws_;
  beast::flat_buffer in_;
  std::deque<std::string> out_;
  std::size_t out_bytes_ = 0;
  bool writing_ = false;
  bool read_paused_ = false;
  bool close_sent_ = false;
  bool closing_hard_ = false;
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
      if (!ec) self->on_request();
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
    http::async_write(stream_, *res_, [self = this->shared_from_this()](beast::error_code, std::size_t) {
      beast::error_code ec;
      beast::get_lowest_layer(self->stream_).socket().shutdown(tcp::socket::shutdown_both, ec);
    });
  }

  ServerContext& ctx_;
  const Metrics* metrics_;
  Stream stream_;
  beast::flat_buffer buf_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> res_;
};

}  // namespace

// ---------------------------------------------------------------- Server

// An io_context whose shutdown (destroying every queued handler, services kept alive) can be
// run before any io_context is destroyed. A connection holds executors of both contexts (its
// socket strand on `io`, its decode strand on `work`), so the handlers of each context must be
// destroyed while the other context's services still exist (ASan: heap-use-after-free in
// ~strand_impl when `io`'s leftover handlers released connections after `work` was gone).
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
  ServerIoContext work;  // destroyed before `io`; both are shut down first (~Impl)
  std::optional<tcp::acceptor> acceptor;
  std::optional<net::signal_set> signals;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> io_guard, work_guard;
  std::vector<std::thread> threads;
  std::mutex state_mu;
  bool started = false, stopped = false;

  ~Impl() {
    // Threads are joined by Server::stop(). Destroy every leftover handler (and with it the
    // connections it holds) while both contexts' services are alive.
    io.shutdown();
    work.shutdown();
  }

  void accept() {
    acceptor->async_accept(net::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec == net::error::operation_aborted) return;
        spdlog::warn("accept failed: {}", ec.message());
      } else {
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
  impl_->ctx.work = &impl_->work;
  impl_->deps = std::move(deps);
  impl_->registry = impl_->deps.metrics ? impl_->deps.metrics : &impl_->own_metrics;
  impl_->metrics.emplace(*impl_->registry, impl_->deps.models);
  impl_->ctx.metrics = &*impl_->metrics;
  impl_->ctx.ledger = impl_->deps.ledger;
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
  beast::error_code ec;
  const auto addr = net::ip::make_address(cfg.listen_ip, ec);
  if (ec) throw Error("--listen-ip: '" + cfg.listen_ip + "' is not an IP address");
  tcp::endpoint ep(addr, cfg.port);
  m.acceptor.emplace(m.io);
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
  m.work_guard.emplace(m.work.get_executor());
  m.accept();
  for (int i = 0; i < cfg.io_threads; ++i) m.threads.emplace_back([&m] { m.io.run(); });
  for (int i = 0; i < cfg.decoder_threads; ++i) m.threads.emplace_back([&m] { m.work.run(); });
  {
    std::lock_guard lock(m.state_mu);
    m.started = true;
  }
  spdlog::info("listening on {}://{}:{} ({} I/O threads, {} decoder threads)", m.tls ? "wss" : "ws", cfg.listen_ip,
               port, cfg.io_threads, cfg.decoder_threads);
  return port;
}

void Server::drain() {
  Impl& m = *impl_;
  {
    std::lock_guard lock(m.ctx.mu);
    if (m.ctx.draining) return;
    m.ctx.draining = true;
    if (m.ctx.sessions.empty()) m.ctx.cv.notify_all();
  }
  net::post(m.io, [&m] {
    beast::error_code ec;
    if (m.acceptor) m.acceptor->close(ec);
    if (m.signals) m.signals->cancel(ec);
  });
  for (auto& s : m.live_sessions()) net::post(s->io_executor(), [s] { s->begin_drain(); });
}

void Server::wait() {
  Impl& m = *impl_;
  {
    std::unique_lock lock(m.ctx.mu);
    m.ctx.cv.wait(lock, [&] { return m.ctx.draining || m.stopped; });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(m.ctx.config.limits.drain_timeout_s);
    if (!m.ctx.cv.wait_until(lock, deadline, [&] { return m.ctx.sessions.empty() || m.stopped; })) {
      lock.unlock();
      spdlog::warn("drain timeout: closing {} remaining session(s)", m.live_sessions().size());
      for (auto& s : m.live_sessions()) net::post(s->io_executor(), [s] { s->force_close(); });
      lock.lock();
      m.ctx.cv.wait_for(lock, std::chrono::seconds(2), [&] { return m.ctx.sessions.empty(); });
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
  m.work_guard.reset();
  m.work.stop();
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
