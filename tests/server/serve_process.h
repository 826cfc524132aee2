// A real `paraserve serve` (PARASERVE_BIN, set by CTest) in a child process for the tests that
// drive the binary over loopback: a free port, the server's own flags, and a wait until it
// accepts a WebSocket connection. The child is killed when the object goes.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include "server/client.h"

namespace paraserve::testing {

inline uint16_t free_port() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

// The four model flags of a model set folder; `offline` names the second-pass subfolder.
inline std::vector<std::string> model_flags(const std::string& models, const std::string& offline) {
  return {"--vad-dir",   models + "/vad",       "--online-model-dir", models + "/online",
          "--model-dir", models + "/" + offline, "--punc-dir",         models + "/punc"};
}

struct ServeProcess {
  pid_t pid = -1;
  uint16_t port = 0;
  ServeProcess() = default;
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;
  ~ServeProcess() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }

  // Starts `paraserve serve --listen-ip 127.0.0.1 --port P <flags>`; true once it accepts a
  // connection (up to 60 s for model loading), false if PARASERVE_BIN is unset or it exited.
  bool start(const std::vector<std::string>& flags) {
    const char* bin = std::getenv("PARASERVE_BIN");
    if (!bin) return false;
    port = free_port();
    std::vector<std::string> args = {bin, "serve", "--listen-ip", "127.0.0.1", "--port", std::to_string(port)};
    args.insert(args.end(), flags.begin(), flags.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid = ::fork();
    if (pid == 0) {
      ::execv(bin, argv.data());
      ::_exit(127);
    }
    for (int i = 0; i < 600; ++i) {
      server::ClientConnection c;
      server::ClientOptions o;
      o.port = port;
      try {
        c.connect(o);
        return true;
      } catch (const std::exception&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      if (::waitpid(pid, nullptr, WNOHANG) == pid) {
        pid = -1;
        return false;
      }
    }
    return false;
  }
};

}  // namespace paraserve::testing
