// `paraserve serve` with SenseVoiceSmall as the second-pass model (the real binary,
// PARASERVE_BIN, and the behavioural models): each 2pass-offline reply is FunASR's
// SenseVoiceSmall text for the segment, tags kept, not punctuated and without the final 。
// FunASR adds to Paraformer text (FunTpassInferBuffer); svs_lang / svs_itn per utterance.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "../models_required.h"
#include "server/client.h"
#include "serve_process.h"

using namespace paraserve::server;
namespace fs = std::filesystem;

namespace {

const std::string kModels = std::string(PARASERVE_TEST_MODELS) + "/behav";

using ServerProcess = paraserve::testing::ServeProcess;

bool start_server(ServerProcess& p) {
  auto flags = paraserve::testing::model_flags(kModels, "SenseVoiceSmall");
  flags.insert(flags.end(), {"--decoder-thread-num", "2", "--log-level", "warn"});
  return p.start(flags);
}

// The sentences' SenseVoice texts of a file (behaviour.json), key "<svs_lang>/<withitn|woitn>".
std::vector<std::string> expected(const std::string& wav, const std::string& key) {
  std::ifstream in(kModels + "/behaviour.json");
  const auto j = nlohmann::json::parse(in);
  std::vector<std::string> out;
  for (const auto& s : j["files"][wav]["sentences"]) out.push_back(s["sensevoice"][key].get<std::string>());
  return out;
}

// The text of every 2pass-offline reply (non-empty ones), in order; checks the reply shape.
std::vector<std::string> offline_replies(const ClientUtterance& u) {
  std::vector<std::string> out;
  for (const auto& r : u.replies) {
    const auto j = nlohmann::json::parse(r);
    if (j.value("mode", "") != "2pass-offline" || j.value("text", "").empty()) continue;
    EXPECT_FALSE(j.contains("timestamp")) << r;  // SenseVoiceSmall has no token timestamps
    EXPECT_FALSE(j.contains("stamp_sents")) << r;
    out.push_back(j["text"].get<std::string>());
  }
  return out;
}

class SenseVoiceServer : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::getenv("PARASERVE_BIN") || !fs::exists(kModels + "/SenseVoiceSmall/model.onnx"))
      PARASERVE_MODELS_MISSING("needs PARASERVE_BIN and models/behav/SenseVoiceSmall");
    ASSERT_TRUE(start_server(server_)) << "paraserve serve did not start";
  }

  ClientUtterance stream(const std::string& wav, const std::string& mode, const std::string& lang,
                         std::optional<bool> itn) {
    const auto audio = read_audio_file(kModels + "/audio/" + wav);
    ClientConnection c;
    ClientOptions o;
    o.port = server_.port;
    o.mode = mode;
    o.realtime = false;
    o.timeout_s = 60;
    o.svs_lang = lang;
    o.svs_itn = itn;
    c.connect(o);
    return c.stream(audio.samples, audio.sample_rate, wav);
  }

  ServerProcess server_;
};

TEST_F(SenseVoiceServer, TwoPassRepliesAreSegmentTextsWithTags) {
  const auto u = stream("sample.wav", "2pass", "", std::nullopt);  // FunASR's defaults: auto, itn
  ASSERT_TRUE(u.got_final) << u.error;
  EXPECT_TRUE(u.error.empty()) << u.error;
  const std::vector<std::string> want = {"<|zh|><|NEUTRAL|><|Speech|> 你好世界。",
                                         "<|en|><|NEUTRAL|><|Speech|>  hello world.",
                                         "<|zh|><|NEUTRAL|><|Speech|> 我们是 server吗。"};
  EXPECT_EQ(offline_replies(u), want);
  EXPECT_EQ(want, expected("sample.wav", "auto/withitn"));
  EXPECT_FALSE(u.online_text.empty());  // the first pass is still the streaming Paraformer
}

TEST_F(SenseVoiceServer, TwoPassSvsLangAndSvsItnPerUtterance) {
  auto u = stream("sample.wav", "2pass", "en", false);
  ASSERT_TRUE(u.got_final) << u.error;
  EXPECT_EQ(offline_replies(u), expected("sample.wav", "en/woitn"));
  u = stream("three_sentences.wav", "2pass", "zh", true);
  ASSERT_TRUE(u.got_final) << u.error;
  EXPECT_EQ(offline_replies(u), expected("three_sentences.wav", "zh/withitn"));
  u = stream("one_sentence.wav", "2pass", "", false);
  ASSERT_TRUE(u.got_final) << u.error;
  EXPECT_EQ(offline_replies(u), std::vector<std::string>{"<|zh|><|NEUTRAL|><|Speech|> 你好世界"});
}

TEST_F(SenseVoiceServer, SegmentClosedByEndOfStreamAsFunAsr) {
  // no_trailing_silence.wav ends inside its last word (你好吗), so its segment is closed by the
  // end of the stream. FunASR appends 。 there only to Paraformer text, and its CTCSearch decodes
  // speech_lengths (T) rows of the T + 4 ctc_logits rows, so the last 4 LFR frames (240 ms),
  // here the whole of 吗, are never decoded. paraserve matches both.
  auto u = stream("no_trailing_silence.wav", "2pass", "", false);
  ASSERT_TRUE(u.got_final) << u.error;
  EXPECT_EQ(offline_replies(u), std::vector<std::string>{"<|zh|><|NEUTRAL|><|Speech|> 你好"});
  u = stream("no_trailing_silence.wav", "2pass", "", true);
  ASSERT_TRUE(u.got_final) << u.error;
  EXPECT_EQ(offline_replies(u), std::vector<std::string>{"<|zh|><|NEUTRAL|><|Speech|> 你好。"});
}

TEST_F(SenseVoiceServer, OfflineModeRepliesAreSegmentTexts) {
  auto u = stream("sample.wav", "offline", "", std::nullopt);
  ASSERT_TRUE(u.got_final) << u.error;
  EXPECT_TRUE(u.online_text.empty());
  EXPECT_EQ(offline_replies(u), expected("sample.wav", "auto/withitn"));
  u = stream("one_sentence.wav", "offline", "en", false);
  ASSERT_TRUE(u.got_final) << u.error;
  EXPECT_EQ(offline_replies(u), std::vector<std::string>{"<|en|><|NEUTRAL|><|Speech|> 你好世界"});
}

}  // namespace
