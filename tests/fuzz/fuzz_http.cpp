// The HTTP side of the server port (src/server/server.cpp): the first request of a
// connection is read with Beast's request parser under the server's limits, then either
// accepted as a WebSocket upgrade or answered by http_endpoint(). server.cpp runs these
// steps asynchronously on a TCP socket; here they run synchronously on Beast's in-memory
// test stream, with the same parser limits, the same upgrade check and the same response
// fields, and the reply is parsed back as a client would.
#include <boost/asio/io_context.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "fuzz_targets.h"
#include "observability/metrics.h"
#include "server/server.h"
#include "server/server_metrics.h"

namespace paraserve::fuzz {
namespace {
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

// The response the client side of the stream receives, parsed leniently (no body limit).
http::response<http::string_body> read_response(beast::test::stream& client, const char* what) {
  beast::flat_buffer buf;
  http::response_parser<http::string_body> p;
  p.body_limit(boost::none);
  p.header_limit(1 << 20);
  beast::error_code ec;
  http::read(client, buf, p, ec);
  fuzz_check(!ec, std::string(what) + ": the server's reply is not a valid HTTP response: " + ec.message());
  return p.release();
}

}  // namespace

int http_request(const std::uint8_t* data, std::size_t size) {
  boost::asio::io_context ioc;
  beast::test::stream server_side(ioc), client(ioc);
  client.connect(server_side);
  server_side.append(beast::string_view(reinterpret_cast<const char*>(data), size));
  client.close();  // the peer half-closes after its bytes: the parser sees end of stream

  // server.cpp HttpSession::read_request
  beast::flat_buffer buf;
  http::request_parser<http::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(4096);
  beast::error_code ec;
  http::read(server_side, buf, parser, ec);
  if (ec) return 0;  // server.cpp drops the connection on a read error
  auto req = parser.release();

  if (websocket::is_upgrade(req)) {
    // WsConnection::start: accept with the server's options; on success the handshake
    // response must be a 101, on failure Beast answers with an HTTP error.
    websocket::stream<beast::test::stream&> ws(server_side);
    ws.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "paraserve"); }));
    ws.read_message_max(2 * std::max<std::size_t>(64 * 1024, 1 << 20));
    ws.auto_fragment(false);
    ws.accept(req, ec);
    server_side.close();
    const auto res = read_response(client, "websocket accept");
    fuzz_check(!ec == (res.result() == http::status::switching_protocols),
               "websocket accept result and response status disagree");
    return 0;
  }

  // HttpSession::on_request
  Metrics registry;
  server::ServerMetrics series(registry, {"fuzz model"});
  server::HealthState h;
  h.draining = size % 5 == 0;
  h.active = size % 3;
  h.max_sessions = 2;
  const server::HttpReply r =
      server::http_endpoint(std::string(req.method_string()), std::string(req.target()), h, &registry);
  fuzz_check(r.status >= 200 && r.status < 600, "http_endpoint returned an invalid status");
  http::response<http::string_body> res;
  res.version(req.version());
  res.result(static_cast<http::status>(r.status));
  res.set(http::field::server, "paraserve");
  res.set(http::field::content_type, r.content_type);
  res.keep_alive(false);
  res.body() = req.method() == http::verb::head ? std::string() : r.body;
  res.prepare_payload();
  if (req.method() == http::verb::head) res.content_length(r.body.size());
  http::write(server_side, res, ec);
  fuzz_check(!ec, "writing the response failed: " + ec.message());
  server_side.close();
  if (req.method() != http::verb::head) {
    const auto back = read_response(client, "endpoint");
    fuzz_check(back.result_int() == static_cast<unsigned>(r.status), "response status changed on the wire");
    fuzz_check(back.body() == r.body, "response body changed on the wire");
  }
  return 0;
}

}  // namespace paraserve::fuzz
