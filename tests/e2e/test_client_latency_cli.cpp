// `paraserve client --latency` against a real `paraserve serve` (models/tiny): calibration,
// three staggered paced streams, the summary JSON; and a calibration that does not match the
// server's reply sequence is reported as an error.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli_util.h"
#include "../models_required.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// `paraserve serve --port 0` on the tiny models, output to a log file; the port is read from
// its "listening on" line.
class LatencyCli : public ::testing::Test {
 protected:
  void SetUp() override {
    tiny_ = std::string(PARASERVE_TEST_MODELS) + "/tiny";
    wav_ = std::string(PARASERVE_TEST_MODELS) + "/behav/audio/three_sentences.wav";
    if (!fs::exists(tiny_ + "/online/config.yaml") || !fs::exists(wav_))
      PARASERVE_MODELS_MISSING("models/tiny or models/behav/audio missing (scripts/make-models.sh)");
    dir_ = fs::temp_directory_path() / ("paraserve-latency-cli-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    const std::string log = (dir_ / "serve.log").string();
    const std::string bin = paraserve::test::paraserve_bin();
    std::vector<std::string> args = {bin, "serve", "--port", "0", "--vad-dir", tiny_ + "/vad", "--online-model-dir",
                                     tiny_ + "/online", "--model-dir", tiny_ + "/offline-ts", "--punc-dir",
                                     tiny_ + "/punc", "--decoder-thread-num", "2", "--io-thread-num", "1"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    ASSERT_EQ(posix_spawn(&pid_, bin.c_str(), &fa, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    const std::regex listening("listening on ws://[^ ]*:([0-9]+) ");
    for (int i = 0; i < 600 && port_ == 0; ++i) {
      std::smatch m;
      const std::string text = slurp(log);
      if (std::regex_search(text, m, listening)) port_ = std::stoi(m[1]);
      else std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_NE(port_, 0) << "serve did not start:\n" << slurp(log);
  }
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::string client(const std::string& flags, int* rc) {
    return paraserve::test::run_shell(paraserve::test::paraserve_bin() + " client --latency --port " +
                                          std::to_string(port_) + " " + flags + " " + wav_,
                                      rc);
  }

  std::string tiny_, wav_;
  fs::path dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

TEST_F(LatencyCli, ThreeStaggeredStreamsMatchTheCalibration) {
  const std::string cal = (dir_ / "cal.json").string(), sum = (dir_ / "sum.json").string();
  int rc = -1;
  // 10.7 s of audio at 4x real time (calibration too), starts spread over 0.3 s.
  const std::string out = client("-c 3 --speed 4 --calibrate-speed 4 --stagger 0.3 --save-calibration " + cal +
                                     " --summary-json " + sum,
                                 &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("partial lag: n="), std::string::npos) << out;
  const json c = json::parse(slurp(cal));
  int partials = 0, finals = 0;
  for (const auto& r : c["replies"]) {
    if (r["is_final"].get<bool>() || r["mode"] == "2pass-offline") ++finals;
    else if (r["mode"] == "2pass-online") ++partials;
  }
  ASSERT_GT(partials, 5) << c.dump();  // 10.7 s of speech-like audio: one partial per 600 ms of speech
  ASSERT_GE(finals, 1);
  const json s = json::parse(slurp(sum));
  EXPECT_EQ(s["streams"], 3);
  EXPECT_EQ(s["errors"], 0) << s.dump();
  EXPECT_EQ(s["concurrency"], 3);
  EXPECT_EQ(s["calibration_replies"].get<int>(), static_cast<int>(c["replies"].size()));
  // Every stream produced exactly the calibration's replies.
  EXPECT_EQ(s["partial_lag"]["count"].get<int>(), 3 * partials) << s.dump();
  EXPECT_EQ(s["final_latency"]["count"].get<int>(), 3 * finals) << s.dump();
  for (const char* k : {"partial_lag", "final_latency"}) {
    const double p50 = s[k]["p50_ms"].get<double>(), p95 = s[k]["p95_ms"].get<double>(),
                 mx = s[k]["max_ms"].get<double>();
    EXPECT_GE(p50, 0) << k;
    EXPECT_LE(p50, p95) << k;
    EXPECT_LE(p95, mx) << k;
    EXPECT_LT(mx, 5000) << k << ": tiny models, 3 streams: lag of seconds means a broken measurement";
  }
}

TEST_F(LatencyCli, ACalibrationWithAnotherReplySequenceIsAnError) {
  const std::string cal = (dir_ / "cal.json").string(), sum = (dir_ / "sum.json").string();
  int rc = -1;
  std::string out = client("--speed 4 --calibrate-speed 4 --calibrate-only --save-calibration " + cal, &rc);
  ASSERT_EQ(rc, 0) << out;
  json c = json::parse(slurp(cal));
  ASSERT_GT(c["replies"].size(), 2u);
  c["replies"].erase(0);  // one partial fewer than the server will send
  std::ofstream(dir_ / "short.json") << c.dump();
  out = client("-c 1 --speed 4 --calibration " + (dir_ / "short.json").string() + " --summary-json " + sum, &rc);
  EXPECT_EQ(rc, 1) << out;
  const json s = json::parse(slurp(sum));
  EXPECT_EQ(s["errors"], 1) << s.dump();
  EXPECT_NE(out.find("error: stream 0: "), std::string::npos) << out;
}

}  // namespace
