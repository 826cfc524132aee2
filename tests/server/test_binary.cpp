// End to end with the real `paraserve serve` binary (PARASERVE_BIN, set by CTest) and the
// behavioural test models: modes, FunASR's Python client conformance, SIGTERM drain.
#include <gtest/gtest.h>

#include "../models_required.h"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include "server/client.h"
#include "serve_process.h"

using namespace paraserve::server;
namespace fs = std::filesystem;

namespace {

using ServerProcess = paraserve::testing::ServeProcess;

bool start_server(ServerProcess& p, const std::string& models) {
  auto flags = paraserve::testing::model_flags(models, "offline-ts");
  flags.insert(flags.end(), {"--quantize", "false", "--vad-quant", "false", "--punc-quant", "false",
                             "--decoder-thread-num", "2", "--drain-timeout", "20", "--log-level", "warn"});
  return p.start(flags);
}

std::string strip_punct(std::string s) {
  for (const char* p : {"，", "。", "？", "、"})
    for (auto at = s.find(p); at != std::string::npos; at = s.find(p)) s.erase(at, std::string(p).size());
  return s;
}

const std::string kModels = std::string(PARASERVE_TEST_MODELS) + "/behav";

}  // namespace

TEST(Binary, ModesConformanceAndSigtermDrain) {
  if (!std::getenv("PARASERVE_BIN") || !fs::exists(kModels + "/behaviour.json") || !fs::exists(kModels + "/vad"))
    PARASERVE_MODELS_MISSING("needs PARASERVE_BIN and models/behav");
  ServerProcess p;
  ASSERT_TRUE(start_server(p, kModels)) << "paraserve serve did not start";
  const auto audio = read_audio_file(kModels + "/audio/one_sentence.wav");
  for (const char* mode : {"2pass", "online", "offline"}) {
    ClientConnection c;
    ClientOptions o;
    o.port = p.port;
    o.mode = mode;
    o.realtime = false;
    o.timeout_s = 60;
    c.connect(o);
    for (int utt = 0; utt < 2; ++utt) {  // a second utterance on the same connection
      auto u = c.stream(audio.samples, audio.sample_rate, std::string(mode) + std::to_string(utt));
      ASSERT_TRUE(u.got_final) << mode << ": " << u.error;
      EXPECT_TRUE(u.error.empty()) << u.error;
      if (std::string(mode) != "offline") {
        EXPECT_EQ(strip_punct(u.online_text), "你好世界") << mode;
      }
      if (std::string(mode) != "online") {
        EXPECT_EQ(strip_punct(u.offline_text), "你好世界") << mode;
      }
    }
  }
  const std::string script = std::string(PARASERVE_SOURCE_DIR) + "/tests/server/funasr_conformance.py";
  const std::string cmd = "/usr/bin/python3 " + script + " 127.0.0.1 " + std::to_string(p.port) + " " + kModels +
                          "/audio/one_sentence.wav";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;

  ASSERT_EQ(::kill(p.pid, SIGTERM), 0);
  int status = 0;
  for (int i = 0; i < 300 && ::waitpid(p.pid, &status, WNOHANG) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(WIFEXITED(status)) << "server did not exit after SIGTERM";
  EXPECT_EQ(WEXITSTATUS(status), 0);
  p.pid = -1;
}

// Issue 10 #2: without a model every session needs, `serve` refuses to start with one line
// naming the missing flag (it used to start, answer /readyz 200 and fail every session).
TEST(Binary, ServeRefusesToStartWithoutARequiredModelDir) {
  const char* bin = std::getenv("PARASERVE_BIN");
  ASSERT_NE(bin, nullptr) << "PARASERVE_BIN is set by CTest";
  const fs::path dir = fs::temp_directory_path() / ("paraserve-ready-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string d = dir.string();
  struct Case {
    std::string args, missing;
  };
  const Case cases[] = {
      {"--vad-dir " + d + " --online-model-dir " + d + " --model-dir " + d, "--punc-dir"},
      {"--vad-dir " + d + " --online-model-dir " + d + " --punc-dir " + d, "--model-dir"},
      {"--vad-dir " + d + " --online-model-dir " + d + " --model-dir " + d + " --punc-dir " + d + "/nope", "--punc-dir"},
  };
  for (const auto& c : cases) {
    const std::string cmd = std::string(bin) + " serve --listen-ip 127.0.0.1 --port 0 " + c.args + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string out;
    char buf[512];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    const int status = ::pclose(p);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << c.args << "\n" << out;
    std::string last = out;
    while (!last.empty() && last.back() == '\n') last.pop_back();
    last = last.substr(last.rfind('\n') == std::string::npos ? 0 : last.rfind('\n') + 1);
    EXPECT_NE(last.find("error: " + c.missing), std::string::npos) << c.args << "\n" << out;
  }
  fs::remove_all(dir);
}

// Issue 10 #1 with the real pipeline: a 16 kHz file, then the same speech at 8 kHz, on one
// connection (what `paraserve client a_16k.wav b_8k.wav` does) both decode right.
TEST(Binary, SixteenThenEightKilohertzOnOneConnection) {
  if (!std::getenv("PARASERVE_BIN") || !fs::exists(kModels + "/behaviour.json") || !fs::exists(kModels + "/vad"))
    PARASERVE_MODELS_MISSING("needs PARASERVE_BIN and models/behav");
  ServerProcess p;
  ASSERT_TRUE(start_server(p, kModels)) << "paraserve serve did not start";
  const auto audio = read_audio_file(kModels + "/audio/one_sentence.wav");
  ASSERT_EQ(audio.sample_rate, 16000);
  std::vector<int16_t> at8k(audio.samples.size() / 2);  // 2:1 decimation after a small low-pass
  for (std::size_t i = 0; i < at8k.size(); ++i) {
    const std::size_t j = 2 * i;
    const int a = audio.samples[j], b = j + 1 < audio.samples.size() ? audio.samples[j + 1] : a;
    const int z = j > 0 ? audio.samples[j - 1] : a;
    at8k[i] = static_cast<int16_t>((z + 2 * a + b) / 4);
  }
  ClientConnection c;
  ClientOptions o;
  o.port = p.port;
  o.realtime = false;
  o.timeout_s = 60;
  c.connect(o);
  for (int round = 0; round < 2; ++round) {
    auto u16 = c.stream(audio.samples, 16000, "a_16k");
    ASSERT_TRUE(u16.got_final) << u16.error;
    EXPECT_EQ(strip_punct(u16.offline_text), "你好世界");
    auto u8 = c.stream(at8k, 8000, "b_8k");
    ASSERT_TRUE(u8.got_final) << u8.error;
    EXPECT_EQ(strip_punct(u8.offline_text), "你好世界") << "8 kHz utterance after a 16 kHz one";
    EXPECT_EQ(strip_punct(u8.online_text), "你好世界");
  }
}
