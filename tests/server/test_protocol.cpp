// Protocol units: client message parsing (every field, type, default and error) and reply
// serialisation (FunASR HEAD's field rules + paraserve's documented differences).
#include <gtest/gtest.h>

#include <array>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "server/config.h"
#include "server/protocol.h"
#include "server/server.h"
#include "pipeline/stream_limits.h"

using namespace paraserve;
using namespace paraserve::server;
using nlohmann::json;

TEST(Protocol, DefaultsMatchFunAsr) {
  ClientParams p;
  EXPECT_EQ(p.mode, "2pass");
  EXPECT_EQ(p.wav_name, "wav-default-id");
  EXPECT_EQ(p.wav_format, "pcm");
  EXPECT_EQ(p.audio_fs, 16000);
  EXPECT_TRUE(p.itn);
  EXPECT_FALSE(p.chunk.has_value());
  const SessionOptions o = session_options(p);
  EXPECT_EQ(o.mode, Mode::kTwoPass);
  EXPECT_EQ(o.chunk.left, 5);
  EXPECT_EQ(o.chunk.chunk, 10);
  EXPECT_EQ(o.chunk.right, 5);
}

TEST(Protocol, PythonClientFirstMessageIsApplied) {
  ClientParams p;
  auto out = apply_text_message(
      R"({"mode":"online","chunk_size":[0,10,5],"chunk_interval":10,"encoder_chunk_look_back":4,)"
      R"("decoder_chunk_look_back":0,"audio_fs":8000,"wav_name":"a.wav","wav_format":"pcm",)"
      R"("is_speaking":true,"hotwords":"{\"阿里巴巴\":20}","itn":false})",
      p);
  EXPECT_TRUE(out.error.empty()) << out.error;
  EXPECT_FALSE(out.end_of_stream);
  EXPECT_EQ(p.mode, "online");
  ASSERT_TRUE(p.chunk);
  EXPECT_EQ(p.chunk->left, 0);
  EXPECT_EQ(p.chunk->chunk, 10);
  EXPECT_EQ(p.audio_fs, 8000);
  EXPECT_EQ(p.wav_name, "a.wav");
  EXPECT_FALSE(p.itn);
  EXPECT_EQ(p.hotwords, "{\"阿里巴巴\":20}");
  const auto o = session_options(p);
  EXPECT_EQ(o.mode, Mode::kOnline);
  EXPECT_EQ(o.sample_rate, 8000);
  EXPECT_FALSE(o.itn);
}

TEST(Protocol, FirstChunkSizeAndFirstHotwordsWin) {
  ClientParams p;
  ASSERT_TRUE(apply_text_message(R"({"chunk_size":[5,8,5],"hotwords":"a"})", p).error.empty());
  ASSERT_TRUE(apply_text_message(R"({"chunk_size":[5,20,5],"hotwords":"b","mode":"offline"})", p).error.empty());
  EXPECT_EQ(p.chunk->chunk, 8);
  EXPECT_EQ(p.hotwords, "a");
  EXPECT_EQ(p.mode, "offline");  // mode is read from every message
}

TEST(Protocol, EndOfStreamFlags) {
  ClientParams p;
  EXPECT_TRUE(apply_text_message(R"({"is_speaking":false,"is_end":true})", p).end_of_stream);
  EXPECT_TRUE(apply_text_message(R"({"is_finished":true})", p).end_of_stream);
  EXPECT_FALSE(apply_text_message(R"({"is_finished":false})", p).end_of_stream);
  EXPECT_FALSE(apply_text_message(R"({"is_speaking":true})", p).end_of_stream);
}

TEST(Protocol, MalformedJsonIsAnErrorThatCloses) {
  ClientParams p;
  auto out = apply_text_message("{not json", p);
  EXPECT_FALSE(out.error.empty());
  EXPECT_TRUE(out.close);
  EXPECT_FALSE(p.configured);
}

TEST(Protocol, NonObjectJsonIsAnError) {
  ClientParams p;
  auto out = apply_text_message("[1,2]", p);
  EXPECT_NE(out.error.find("JSON object"), std::string::npos);
  EXPECT_FALSE(out.close);
}

TEST(Protocol, WrongFieldTypesRejectWholeMessage) {
  const char* cases[] = {R"({"itn":1,"mode":"online"})",        R"({"mode":2})",
                         R"({"wav_name":3,"mode":"online"})",   R"({"audio_fs":"16000"})",
                         R"({"audio_fs":16000.5})",             R"({"hotwords":{"a":1}})",
                         R"({"is_speaking":"false"})",          R"({"is_finished":1})",
                         R"({"wav_format":1})",                 R"({"svs_itn":"yes"})",
                         R"({"svs_lang":false})"};
  for (const char* c : cases) {
    ClientParams p;
    auto out = apply_text_message(c, p);
    EXPECT_NE(out.error.find("field '"), std::string::npos) << c;
    EXPECT_FALSE(out.close) << c;
    EXPECT_EQ(p.mode, "2pass") << c;  // nothing applied
    EXPECT_FALSE(p.configured) << c;
  }
}

TEST(Protocol, InvalidChunkSizeRejected) {
  const char* cases[] = {R"({"chunk_size":[5,0,5]})", R"({"chunk_size":[5,10]})", R"({"chunk_size":"5,10,5"})",
                         R"({"chunk_size":[5,10,5,5]})", R"({"chunk_size":[-1,10,5]})", R"({"chunk_size":[5,"10",5]})"};
  for (const char* c : cases) {
    ClientParams p;
    auto out = apply_text_message(c, p);
    EXPECT_NE(out.error.find("chunk_size"), std::string::npos) << c;
    EXPECT_FALSE(p.chunk) << c;
  }
  ClientParams p;
  auto out = apply_text_message(R"({"chunk_size":[5,0,5],"is_speaking":false})", p);
  EXPECT_FALSE(out.end_of_stream);  // the rest of the message is skipped (FunASR)
}

// Issue 10 #3: one definition of each limit (pipeline/stream_limits.h), used by the
// protocol check, the session and the docs.
TEST(Protocol, ChunkAndRateLimitsAreTheSessionLimits) {
  using namespace paraserve::stream_limits;
  const int m = kMaxChunkFrames;
  for (auto [l, c, r] : {std::array{0, m, 0}, std::array{m, 1, m}, std::array{0, 1, 0}}) {
    ClientParams p;
    const std::string msg = "{\"chunk_size\":[" + std::to_string(l) + "," + std::to_string(c) + "," + std::to_string(r) + "]}";
    EXPECT_TRUE(apply_text_message(msg, p).error.empty()) << msg;
    EXPECT_TRUE(check_chunk_size(l, c, r).empty()) << msg;
  }
  for (auto [l, c, r] : {std::array{0, m + 1, 0}, std::array{m + 1, 10, 0}, std::array{0, 10, m + 1},
                         std::array{0, 1000, 0}}) {
    ClientParams p;
    const std::string msg = "{\"chunk_size\":[" + std::to_string(l) + "," + std::to_string(c) + "," + std::to_string(r) + "]}";
    auto out = apply_text_message(msg, p);
    EXPECT_NE(out.error.find("field 'chunk_size'"), std::string::npos) << msg;
    EXPECT_FALSE(out.close) << msg;
    EXPECT_FALSE(p.chunk) << msg;
    EXPECT_FALSE(check_chunk_size(l, c, r).empty()) << msg;
  }
  for (int fs : {kMinAudioFs, 8000, kMaxAudioFs}) {
    ClientParams p;
    EXPECT_TRUE(apply_text_message("{\"audio_fs\":" + std::to_string(fs) + "}", p).error.empty()) << fs;
    EXPECT_EQ(p.audio_fs, fs);
  }
  for (int fs : {kMinAudioFs - 1, kMaxAudioFs + 1, 384000}) {
    ClientParams p;
    EXPECT_NE(apply_text_message("{\"audio_fs\":" + std::to_string(fs) + "}", p).error.find("field 'audio_fs'"),
              std::string::npos)
        << fs;
    EXPECT_FALSE(check_audio_fs(fs).empty()) << fs;
  }
}

TEST(Protocol, DocsQuoteTheLimits) {
  using namespace paraserve::stream_limits;
  std::ifstream f(std::string(PARASERVE_SOURCE_DIR) + "/docs/server.md");
  ASSERT_TRUE(f) << "docs/server.md";
  const std::string doc((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const std::string fs_range = "`audio_fs` outside " + std::to_string(kMinAudioFs) + "–" + std::to_string(kMaxAudioFs);
  const std::string chunk_rule = "each at most " + std::to_string(kMaxChunkFrames);
  EXPECT_NE(doc.find(fs_range), std::string::npos) << fs_range;
  EXPECT_NE(doc.find(chunk_rule), std::string::npos) << chunk_rule;
}

// Issue 10 #1: chunk_size and hotwords are read once per utterance; an end of stream starts
// a new utterance whose first message may change them (as on a fresh connection).
TEST(Protocol, SettingsPerUtterance) {
  ClientParams p;
  ASSERT_TRUE(apply_text_message(R"({"chunk_size":[5,8,5],"hotwords":"a","audio_fs":16000})", p).error.empty());
  ASSERT_TRUE(apply_text_message(R"({"chunk_size":[5,20,5],"hotwords":"b","audio_fs":8000})", p).error.empty());
  UtteranceSettings s = p.settings();
  EXPECT_EQ(s.chunk.chunk, 8);
  EXPECT_EQ(s.hotwords, "a");
  EXPECT_EQ(s.audio_fs, 8000);  // read from every message
  p.next_utterance();
  ASSERT_TRUE(apply_text_message(R"({"chunk_size":[0,4,2],"hotwords":"c","itn":false})", p).error.empty());
  s = p.settings();
  EXPECT_EQ(s.chunk.left, 0);
  EXPECT_EQ(s.chunk.chunk, 4);
  EXPECT_EQ(s.hotwords, "c");
  EXPECT_FALSE(s.itn);
  EXPECT_EQ(s.audio_fs, 8000);  // persists
  const SessionOptions o = session_options(s, Mode::kOnline);
  EXPECT_EQ(o.sample_rate, 8000);
  EXPECT_EQ(o.chunk.chunk, 4);
  EXPECT_EQ(o.hotwords, "c");
  EXPECT_EQ(o.mode, Mode::kOnline);
  p.next_utterance();
  ASSERT_TRUE(apply_text_message(R"({"is_speaking":true})", p).error.empty());  // no hotwords: keep "c"
  EXPECT_EQ(p.settings().hotwords, "c");
  EXPECT_TRUE(p.settings() == s);
}

TEST(Protocol, UnknownModeAndWavFormat) {
  ClientParams p;
  auto m = apply_text_message(R"({"mode":"fast"})", p);
  EXPECT_NE(m.error.find("mode"), std::string::npos);
  EXPECT_FALSE(m.close);
  auto f = apply_text_message(R"({"wav_format":"mp3"})", p);
  EXPECT_NE(f.error.find("wav_format"), std::string::npos);
  EXPECT_TRUE(f.close);
  EXPECT_TRUE(apply_text_message(R"({"wav_format":"PCM"})", p).error.empty());
  auto fs = apply_text_message(R"({"audio_fs":0})", p);
  EXPECT_NE(fs.error.find("audio_fs"), std::string::npos);
}

TEST(Protocol, ParseMode) {
  EXPECT_EQ(parse_mode("offline"), Mode::kOffline);
  EXPECT_EQ(parse_mode("online"), Mode::kOnline);
  EXPECT_EQ(parse_mode("2pass"), Mode::kTwoPass);
  EXPECT_FALSE(parse_mode("2PASS"));
}

namespace {
StreamResult online(const std::string& t, int64_t vs = 100) {
  StreamResult r;
  r.online_text = t;
  r.vad_start_ms = vs;
  return r;
}
StreamResult offline(const std::string& t, int64_t ve) {
  StreamResult r;
  r.has_offline = true;
  r.offline_text = t;
  r.vad_end_ms = ve;
  return r;
}
}  // namespace

TEST(Reply, OnlinePartialsThenOfflineSentence) {
  ReplyState st;
  json a = json::parse(format_result(online("你好", 500), Mode::kTwoPass, "w", st));
  EXPECT_EQ(a["text"], "你好");
  EXPECT_EQ(a["mode"], "2pass-online");
  EXPECT_EQ(a["slice_type"], 0);
  EXPECT_EQ(a["index"], 0);
  EXPECT_EQ(a["is_final"], false);
  EXPECT_EQ(a["wav_name"], "w");
  EXPECT_FALSE(a.contains("timestamp"));  // never an integer timestamp
  EXPECT_FALSE(a.contains("is_end"));
  EXPECT_FALSE(a.contains("start_time"));
  json b = json::parse(format_result(online("世界", 900), Mode::kTwoPass, "w", st));
  EXPECT_EQ(b["slice_type"], 1);
  json c = json::parse(format_result(offline("你好世界", 1800), Mode::kTwoPass, "w", st));
  EXPECT_EQ(c["mode"], "2pass-offline");
  EXPECT_EQ(c["slice_type"], 2);
  EXPECT_EQ(c["index"], 0);
  EXPECT_EQ(c["start_time"], 500);  // captured at the sentence's first partial
  EXPECT_EQ(c["end_time"], 1800);
  json d = json::parse(format_result(online("今", 2500), Mode::kTwoPass, "w", st));
  EXPECT_EQ(d["index"], 1);
  EXPECT_EQ(d["slice_type"], 0);
}

TEST(Reply, KeysAreSortedAndUtf8IsRaw) {
  ReplyState st;
  const std::string s = format_result(online("你好"), Mode::kTwoPass, "w", st);
  EXPECT_EQ(s, R"({"index":0,"is_final":false,"mode":"2pass-online","slice_type":0,"text":"你好","wav_name":"w"})");
}

TEST(Reply, EmptyNonFinalIsNotSent) {
  ReplyState st;
  StreamResult r;
  r.vad_end_ms = 10;
  EXPECT_EQ(format_result(r, Mode::kTwoPass, "w", st), "");
}

TEST(Reply, FinalAlwaysSentWithIsEnd) {
  ReplyState st;
  StreamResult r;
  r.is_final = true;
  json j = json::parse(format_result(r, Mode::kTwoPass, "w", st));
  EXPECT_EQ(j["text"], "");
  EXPECT_EQ(j["is_final"], true);
  EXPECT_EQ(j["is_end"], true);
  EXPECT_FALSE(j.contains("mode"));
}

TEST(Reply, OfflineTextReplacesOnlineInSameResult) {
  ReplyState st;
  StreamResult r = offline("你好世界。", 2000);
  r.online_text = "界";
  r.is_final = true;
  json j = json::parse(format_result(r, Mode::kTwoPass, "w", st));
  EXPECT_EQ(j["text"], "你好世界。");
  EXPECT_EQ(j["mode"], "2pass-offline");
}

TEST(Reply, OnlineModeNeverSendsOfflineButFinalClosesSentence) {
  ReplyState st;
  format_result(online("a"), Mode::kOnline, "w", st);
  StreamResult fin = offline("A.", 10);
  fin.is_final = true;
  json j = json::parse(format_result(fin, Mode::kOnline, "w", st));
  EXPECT_EQ(j["text"], "");
  EXPECT_EQ(st.index, 1);
  EXPECT_FALSE(st.sentence_started);
}

TEST(Reply, TimestampsAsArrayStringAndStampSentsAsArray) {
  ReplyState st;
  StreamResult r = offline("你好。", 900);
  r.has_timestamps = true;
  r.timestamps = {{100, 300}, {300, 520}};
  SentenceStamp s;
  s.text_seg = "你 好";
  s.punc = "。";
  s.start = 100;
  s.end = 520;
  s.ts_list = r.timestamps;
  r.stamp_sents = {s};
  json j = json::parse(format_result(r, Mode::kTwoPass, "w", st));
  ASSERT_TRUE(j["timestamp"].is_string());
  EXPECT_EQ(j["timestamp"], "[[100,300],[300,520]]");
  ASSERT_TRUE(j["stamp_sents"].is_array());
  EXPECT_EQ(j["stamp_sents"][0]["punc"], "。");
  EXPECT_EQ(j["stamp_sents"][0]["ts_list"][1][1], 520);
  EXPECT_EQ(json::parse(j["timestamp"].get<std::string>())[1][0], 300);
}

TEST(Reply, ErrorShape) {
  json j = json::parse(format_error("w", "bad thing"));
  EXPECT_EQ(j["error"], "bad thing");
  EXPECT_EQ(j["is_final"], true);
  EXPECT_EQ(j["wav_name"], "w");
  EXPECT_TRUE(j["text"].get<std::string>().find("bad thing") != std::string::npos);
  StreamResult r;
  r.is_final = true;
  r.error = "ONLY SUPPORT PCM";
  ReplyState st;
  EXPECT_EQ(json::parse(format_result(r, Mode::kTwoPass, "w", st))["error"], "ONLY SUPPORT PCM");
}

TEST(Config, ValidationNamesTheFlag) {
  ServerLimits l;
  EXPECT_NO_THROW(l.validate());
  l.max_sessions = 0;
  try {
    l.validate();
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--max-sessions"), std::string::npos);
  }
  ServerConfig c;
  c.io_threads = 0;
  EXPECT_THROW(c.validate(), Error);
  ServerConfig t;
  t.certfile = "/nonexistent/cert.pem";  // missing cert file = TLS off (FunASR's rule)
  EXPECT_FALSE(t.tls_enabled());
}

TEST(Http, Endpoints) {
  HealthState h{false, 1, 2};
  EXPECT_EQ(http_endpoint("GET", "/healthz", h, nullptr).status, 200);
  EXPECT_EQ(http_endpoint("GET", "/readyz", h, nullptr).status, 200);
  h.active = 2;
  EXPECT_EQ(http_endpoint("GET", "/readyz", h, nullptr).status, 503);
  h.active = 0;
  h.draining = true;
  EXPECT_EQ(http_endpoint("GET", "/readyz", h, nullptr).status, 503);
  EXPECT_EQ(http_endpoint("GET", "/healthz", h, nullptr).status, 200);
  EXPECT_EQ(http_endpoint("GET", "/nope", h, nullptr).status, 404);
  EXPECT_EQ(http_endpoint("POST", "/healthz", h, nullptr).status, 405);
  EXPECT_NE(http_endpoint("GET", "/metrics", h, nullptr).content_type.find("0.0.4"), std::string::npos);
}
