// A deliberately primitive WebSocket client over a blocking POSIX socket, for tests that
// must misbehave at the byte level: stall inside a frame, half-close, reset, send garbage.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <unistd.h>

namespace paraserve::server::testing {

class RawSocket {
 public:
  // rcvbuf > 0: a small receive buffer (set before connecting), for clients that do not read.
  explicit RawSocket(uint16_t port, int rcvbuf = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) return;
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    timeval tv{10, 0};  // a blocked send gives up after 10 s
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RawSocket() { close(); }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  bool send_all(const void* data, std::size_t n) {
    const auto* p = static_cast<const char*>(data);
    while (n > 0) {
      const ssize_t k = ::send(fd_, p, n, MSG_NOSIGNAL);
      if (k <= 0) return false;
      p += k;
      n -= static_cast<std::size_t>(k);
    }
    return true;
  }
  bool send_str(const std::string& s) { return send_all(s.data(), s.size()); }
  // Appends what arrives within timeout_s to `in_`; false on EOF, error or timeout.
  bool fill(double timeout_s) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout_s * 1000)) <= 0) return false;
    char buf[65536];
    const ssize_t k = ::recv(fd_, buf, sizeof buf, 0);
    if (k <= 0) {
      eof_ = true;
      return false;
    }
    in_.append(buf, static_cast<std::size_t>(k));
    return true;
  }
  // Everything until the peer closes (or timeout_s passes).
  std::string read_all(double timeout_s) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (!eof_ && std::chrono::steady_clock::now() < end) fill(0.05);
    return std::exchange(in_, {});
  }
  bool eof() const { return eof_; }
  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }
  void reset() {  // close with RST
    linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close();
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 protected:
  int fd_ = -1;
  std::string in_;
  bool eof_ = false;
};

class RawWs : public RawSocket {
 public:
  using RawSocket::RawSocket;
  static constexpr uint8_t kText = 1, kBinary = 2, kClose = 8;

  std::string handshake_request() const {
    return "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  }
  bool handshake(double timeout_s = 5) {
    if (!send_str(handshake_request())) return false;
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (in_.find("\r\n\r\n") == std::string::npos) {
      if (std::chrono::steady_clock::now() > end || !fill(0.05)) {
        if (eof_ || std::chrono::steady_clock::now() > end) return false;
      }
    }
    const auto head = in_.find("\r\n\r\n");
    const bool ok = in_.rfind("HTTP/1.1 101", 0) == 0;
    in_.erase(0, head + 4);
    return ok;
  }
  // A frame header (masked, mask key 0 so the payload goes as-is).
  static std::string header(uint8_t opcode, uint64_t len, bool fin = true) {
    std::string h;
    h.push_back(static_cast<char>((fin ? 0x80 : 0) | opcode));
    if (len < 126) {
      h.push_back(static_cast<char>(0x80 | len));
    } else if (len < 65536) {
      h.push_back(static_cast<char>(0x80 | 126));
      h.push_back(static_cast<char>(len >> 8));
      h.push_back(static_cast<char>(len & 0xff));
    } else {
      h.push_back(static_cast<char>(0x80 | 127));
      for (int i = 7; i >= 0; --i) h.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
    }
    h.append(4, '\0');
    return h;
  }
  bool frame(uint8_t opcode, const void* data, std::size_t n) {
    const std::string h = header(opcode, n);
    return send_str(h) && send_all(data, n);
  }
  bool text(const std::string& s) { return frame(kText, s.data(), s.size()); }
  bool binary(const std::vector<uint8_t>& b) { return frame(kBinary, b.data(), b.size()); }

  struct Frame {
    uint8_t opcode = 0;
    std::string payload;
    uint16_t close_code() const {
      return payload.size() >= 2 ? static_cast<uint16_t>((static_cast<uint8_t>(payload[0]) << 8) |
                                                         static_cast<uint8_t>(payload[1]))
                                 : 0;
    }
  };
  // The next frame from the server (unmasked), or nullopt on EOF/timeout.
  std::optional<Frame> read_frame(double timeout_s = 5) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    for (;;) {
      if (auto f = parse()) return f;
      if (eof_ || std::chrono::steady_clock::now() > end) return std::nullopt;
      fill(0.05);
    }
  }
  // Text payloads until a close frame or EOF; `close_code` gets the close code (0 if none).
  std::vector<std::string> read_texts(uint16_t& close_code, double timeout_s = 5) {
    std::vector<std::string> out;
    close_code = 0;
    while (auto f = read_frame(timeout_s)) {
      if (f->opcode == kClose) {
        close_code = f->close_code();
        break;
      }
      if (f->opcode == kText) out.push_back(f->payload);
    }
    return out;
  }

 private:
  std::optional<Frame> parse() {
    if (in_.size() < 2) return std::nullopt;
    const auto b = [&](std::size_t i) { return static_cast<uint8_t>(in_[i]); };
    std::size_t pos = 2;
    uint64_t len = b(1) & 0x7f;
    if (len == 126) {
      if (in_.size() < 4) return std::nullopt;
      len = (uint64_t{b(2)} << 8) | b(3);
      pos = 4;
    } else if (len == 127) {
      if (in_.size() < 10) return std::nullopt;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | b(2 + static_cast<std::size_t>(i));
      pos = 10;
    }
    if (in_.size() < pos + len) return std::nullopt;
    Frame f;
    f.opcode = b(0) & 0x0f;
    f.payload = in_.substr(pos, len);
    in_.erase(0, pos + len);
    return f;
  }
};

}  // namespace paraserve::server::testing
