// ITN through the WebSocket protocol with the real `paraserve serve` binary (PARASERVE_BIN),
// the behavioural models and the test ITN grammar plus tests/itn_behav_whitelist.tsv
// (世界 -> 2024年): a message's `itn` decides whether its 2pass-offline text is normalised.
#include <gtest/gtest.h>

#include "../itn_fixture.h"
#include "../models_required.h"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
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

const std::string kModels = std::string(PARASERVE_TEST_MODELS) + "/behav";

struct ItnServer : paraserve::testing::ServeProcess {
  bool start(const std::string& itn_dir) {
    auto flags = paraserve::testing::model_flags(kModels, "offline-ts");
    flags.insert(flags.end(), {"--itn-dir", itn_dir, "--quantize", "false", "--vad-quant", "false", "--punc-quant",
                               "false", "--decoder-thread-num", "2", "--log-level", "warn"});
    return ServeProcess::start(flags);
  }
};

// The 2pass-offline replies' texts and their `timestamp` arrays.
struct Offline {
  std::string text;
  std::vector<nlohmann::json> stamps;
};

Offline offline_replies(const ClientUtterance& u) {
  Offline o;
  for (const auto& r : u.replies) {
    const auto j = nlohmann::json::parse(r);
    if (j.value("mode", "") != "2pass-offline") continue;
    o.text += j.value("text", "");
    if (j.contains("timestamp")) o.stamps.push_back(nlohmann::json::parse(j["timestamp"].get<std::string>()));
  }
  return o;
}

}  // namespace

TEST(ItnServe, MessageFlagSelectsNormalisation) {
  if (!std::getenv("PARASERVE_BIN") || !fs::exists(kModels + "/behaviour.json"))
    PARASERVE_MODELS_MISSING("needs PARASERVE_BIN and models/behav");
  const std::string itn_dir = paraserve::testing::itn_behav_dir();
  ASSERT_FALSE(itn_dir.empty());
  ItnServer s;
  ASSERT_TRUE(s.start(itn_dir)) << "paraserve serve --itn-dir did not start";
  const auto audio = read_audio_file(kModels + "/audio/one_sentence.wav");
  Offline got[2];
  for (bool itn : {true, false}) {
    ClientConnection c;
    ClientOptions o;
    o.port = s.port;
    o.realtime = false;
    o.timeout_s = 60;
    o.itn = itn;
    c.connect(o);
    auto u = c.stream(audio.samples, audio.sample_rate, itn ? "itn_on" : "itn_off");
    ASSERT_TRUE(u.got_final) << u.error;
    EXPECT_EQ(u.online_text, "你好世界");  // partials are never normalised
    got[itn ? 0 : 1] = offline_replies(u);
  }
  // (The realtime punctuation holds a sentence's last mark for the next one.)
  EXPECT_EQ(got[0].text, "你好，2024年");
  EXPECT_EQ(got[1].text, "你好，世界");
  // The sentence's stamps: 你 好 世 界 without ITN; re-aligned to 你 好 2 0 2 4 年 with it, 世界's
  // span spread over the five new units.
  ASSERT_EQ(got[1].stamps.size(), 1u);
  ASSERT_EQ(got[0].stamps.size(), 1u);
  ASSERT_EQ(got[1].stamps[0].size(), 4u);
  ASSERT_EQ(got[0].stamps[0].size(), 7u);
  EXPECT_EQ(got[0].stamps[0][0], got[1].stamps[0][0]);
  EXPECT_EQ(got[0].stamps[0][1], got[1].stamps[0][1]);
  EXPECT_EQ(got[0].stamps[0][2][0], got[1].stamps[0][2][0]);  // 世's start
  EXPECT_EQ(got[0].stamps[0][6][1], got[1].stamps[0][3][1]);  // 界's end
}

TEST(ItnServe, BadItnDirStopsStartupNamingTheFile) {
  if (!std::getenv("PARASERVE_BIN") || !fs::exists(kModels + "/behaviour.json"))
    PARASERVE_MODELS_MISSING("needs PARASERVE_BIN and models/behav");
  const fs::path dir = fs::path(::testing::TempDir()) / ("itn_missing_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string cmd = std::string(std::getenv("PARASERVE_BIN")) + " serve --port 1 --vad-dir " + kModels +
                          "/vad --online-model-dir " + kModels + "/online --model-dir " + kModels +
                          "/offline --punc-dir " + kModels + "/punc --quantize false --vad-quant false --punc-quant false" +
                          " --itn-dir " + dir.string() + " 2>&1";
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  fs::remove_all(dir);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << out;
  EXPECT_NE(out.find("missing zh_itn_tagger.fst"), std::string::npos) << out;
}
