// Partial lag and final latency of `paraserve client --latency` (server/latency.h): pure
// functions over recorded timestamps.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "server/latency.h"

using namespace paraserve;
using namespace paraserve::server;

namespace {

// A stream of `frames` frames of 960 samples, frame i written at start + i * 0.06 s.
StreamTimeline paced(int frames, double start = 0.0, double frame_s = 0.06) {
  StreamTimeline t;
  t.frame_samples = 960;
  for (int i = 0; i < frames; ++i) t.frame_sent_s.push_back(start + i * frame_s);
  t.end_sent_s = start + frames * frame_s;
  t.got_final = true;
  return t;
}

ReplyEvent reply(const std::string& mode, double at, std::size_t samples, bool is_final = false,
                 const std::string& text = "x") {
  return {mode, text, is_final, at, samples};
}

}  // namespace

TEST(Latency, SendTimeOfFindsTheFrameThatCompletedThePosition) {
  const auto t = paced(5, 1.0);
  EXPECT_DOUBLE_EQ(send_time_of(t, 0), 1.0);
  EXPECT_DOUBLE_EQ(send_time_of(t, 1), 1.0);
  EXPECT_DOUBLE_EQ(send_time_of(t, 960), 1.0);
  EXPECT_DOUBLE_EQ(send_time_of(t, 961), 1.06);
  EXPECT_DOUBLE_EQ(send_time_of(t, 4800), 1.24);
  EXPECT_EQ(send_time_of(t, 4801), -1);  // frame 5 never sent
  EXPECT_EQ(send_time_of(StreamTimeline{}, 10), -1);
}

TEST(Latency, CalibrationKeepsTheSamplesSentAtEachArrival) {
  auto t = paced(20);
  t.replies = {reply("2pass-online", 0.62, 10 * 960), reply("2pass-offline", 1.0, 17 * 960),
               reply("", 1.3, 20 * 960, true, "")};
  const auto c = calibrate(t);
  EXPECT_TRUE(c.error.empty());
  ASSERT_EQ(c.replies.size(), 3u);
  EXPECT_EQ(c.replies[0].ref_samples, 9600u);
  EXPECT_EQ(c.replies[1].mode, "2pass-offline");
  EXPECT_TRUE(c.replies[2].is_final);
  // Round trip through the file form.
  const auto back = calibration_from_json(calibration_to_json(c));
  ASSERT_EQ(back.replies.size(), 3u);
  EXPECT_EQ(back.replies[1].ref_samples, 17u * 960);
  EXPECT_EQ(back.replies[2].mode, "");
  EXPECT_TRUE(back.replies[2].is_final);
  EXPECT_THROW(calibration_from_json("{\"replies\": [{\"mode\": 1}]}"), Error);
  EXPECT_THROW(calibration_from_json("[]"), Error);

  t.got_final = false;
  EXPECT_NE(calibrate(t).error, "");
  t.got_final = true;
  t.error = "connection lost";
  EXPECT_NE(calibrate(t).error.find("connection lost"), std::string::npos);
}

TEST(Latency, LagIsArrivalMinusSendTimeOfTheReferencePosition) {
  Calibration cal;
  cal.replies = {{"2pass-online", "a", false, 10 * 960},   // covers frames 0..9
                 {"2pass-online", "b", false, 20 * 960},   // frames ..19
                 {"2pass-offline", "c", false, 25 * 960},  // VAD end confirmed in frame 24
                 {"2pass-offline", "", true, 30 * 960}};   // end of stream
  // Loaded stream starts at 5.0 s; frame 9 is written at 5.54, frame 19 at 6.14, frame 24 at 6.44.
  auto t = paced(30, 5.0);
  t.replies = {reply("2pass-online", 5.54 + 0.25, 0, false, "a"), reply("2pass-online", 6.14 + 0.75, 0, false, "b"),
               reply("2pass-offline", 6.44 + 1.5, 0, false, "c"), reply("2pass-offline", t.end_sent_s + 0.4, 0, true, "")};
  const auto s = measure_stream(cal, t);
  EXPECT_EQ(s.error, "");
  ASSERT_EQ(s.partial_lag_s.size(), 2u);
  EXPECT_NEAR(s.partial_lag_s[0], 0.25, 1e-9);
  EXPECT_NEAR(s.partial_lag_s[1], 0.75, 1e-9);
  ASSERT_EQ(s.final_latency_s.size(), 2u);
  EXPECT_NEAR(s.final_latency_s[0], 1.5, 1e-9);
  EXPECT_NEAR(s.final_latency_s[1], 0.4, 1e-9);  // the final reply is timed from the end-of-speech message
  EXPECT_EQ(s.early_replies, 0);
  EXPECT_EQ(s.text_mismatches, 0);
}

TEST(Latency, EarlyRepliesCountAndClampToZero) {
  Calibration cal;
  cal.replies = {{"2pass-online", "a", false, 12 * 960}, {"", "", true, 12 * 960}};
  auto t = paced(12);
  // Frame 11 is written at 0.66 s; this reply came at 0.65 s (faster than the calibration).
  t.replies = {reply("2pass-online", 0.65, 0, false, "other"), reply("", t.end_sent_s + 0.1, 0, true, "")};
  const auto s = measure_stream(cal, t);
  EXPECT_EQ(s.error, "");
  ASSERT_EQ(s.partial_lag_s.size(), 1u);
  EXPECT_EQ(s.partial_lag_s[0], 0.0);
  EXPECT_EQ(s.early_replies, 1);
  EXPECT_EQ(s.text_mismatches, 1);  // different text is counted, not an error
  ASSERT_EQ(s.final_latency_s.size(), 1u);
  EXPECT_NEAR(s.final_latency_s[0], 0.1, 1e-9);
}

TEST(Latency, AReplySequenceOtherThanTheCalibrationIsAnError) {
  Calibration cal;
  cal.replies = {{"2pass-online", "a", false, 960}, {"2pass-online", "b", false, 1920}, {"", "", true, 1920}};
  auto t = paced(2);
  // One partial missing: the second reply is the final one.
  t.replies = {reply("2pass-online", 0.01, 0), reply("", 0.2, 0, true, "")};
  auto s = measure_stream(cal, t);
  EXPECT_NE(s.error.find("reply 1"), std::string::npos) << s.error;
  EXPECT_EQ(s.partial_lag_s.size(), 1u);  // timed up to the difference

  // Same kinds, one extra reply at the end.
  t.replies = {reply("2pass-online", 0.01, 0), reply("2pass-online", 0.07, 0), reply("", 0.2, 0, true, ""),
               reply("", 0.3, 0, true, "")};
  s = measure_stream(cal, t);
  EXPECT_NE(s.error.find("4 replies, the calibration had 3"), std::string::npos) << s.error;

  // A transport error or a missing final reply is an error even with matching replies.
  t.replies = {reply("2pass-online", 0.01, 0), reply("2pass-online", 0.07, 0), reply("", 0.2, 0, true, "")};
  EXPECT_EQ(measure_stream(cal, t).error, "");
  t.got_final = false;
  EXPECT_EQ(measure_stream(cal, t).error, "no final reply");
  t.error = "timed out";
  EXPECT_EQ(measure_stream(cal, t).error, "timed out");
}

TEST(Latency, PercentilesAreNearestRank) {
  std::vector<double> v;
  for (int i = 20; i >= 1; --i) v.push_back(i * 0.1);  // 0.1 .. 2.0, unsorted
  const auto p = percentiles(v);
  EXPECT_EQ(p.count, 20u);
  EXPECT_NEAR(p.p50, 1.0, 1e-9);  // rank ceil(0.5*20) = 10
  EXPECT_NEAR(p.p95, 1.9, 1e-9);  // rank 19
  EXPECT_NEAR(p.max, 2.0, 1e-9);
  const auto one = percentiles({0.3});
  EXPECT_EQ(one.p50, 0.3);
  EXPECT_EQ(one.p95, 0.3);
  const auto none = percentiles({});
  EXPECT_EQ(none.count, 0u);
  EXPECT_EQ(none.p95, -1);
}

TEST(Latency, SummaryPoolsAllStreamsAndCountsErrors) {
  StreamLatency a, b, c;
  a.partial_lag_s = {0.1, 0.2};
  a.final_latency_s = {0.5};
  b.partial_lag_s = {0.3};
  b.final_latency_s = {1.5};
  b.early_replies = 2;
  c.error = "reply 3 is 'x'";
  const auto s = summarize({a, b, c});
  EXPECT_EQ(s.streams, 3);
  EXPECT_EQ(s.errors, 1);
  ASSERT_EQ(s.error_messages.size(), 1u);
  EXPECT_EQ(s.error_messages[0], "stream 2: reply 3 is 'x'");
  EXPECT_EQ(s.partial_lag.count, 3u);
  EXPECT_NEAR(s.partial_lag.p95, 0.3, 1e-9);
  EXPECT_NEAR(s.final_latency.p50, 0.5, 1e-9);
  EXPECT_NEAR(s.final_latency.max, 1.5, 1e-9);
  EXPECT_EQ(s.early_replies, 2);
  const auto j = nlohmann::json::parse(summary_to_json(s));
  EXPECT_EQ(j["errors"], 1);
  EXPECT_EQ(j["partial_lag"]["count"], 3);
  EXPECT_DOUBLE_EQ(j["partial_lag"]["p95_ms"].get<double>(), 300.0);
  EXPECT_DOUBLE_EQ(j["final_latency"]["max_ms"].get<double>(), 1500.0);
  EXPECT_TRUE(nlohmann::json::parse(summary_to_json(summarize({})))["partial_lag"]["p95_ms"].is_null());
}

TEST(Latency, TimelineOfParsesTheRecordedReplies) {
  ClientUtterance u;
  u.frame_samples = 960;
  u.frame_sent_s = {0.0, 0.06};
  u.end_sent_s = 0.12;
  u.got_final = true;
  u.replies = {R"({"mode":"2pass-online","text":"ab","is_final":false,"wav_name":"w"})",
               R"({"text":"","is_final":true,"wav_name":"w"})"};
  u.reply_s = {0.07, 0.2};
  u.reply_samples_sent = {1920, 1920};
  const auto t = timeline_of(u);
  EXPECT_EQ(t.error, "");
  ASSERT_EQ(t.replies.size(), 2u);
  EXPECT_EQ(t.replies[0].mode, "2pass-online");
  EXPECT_EQ(t.replies[0].text, "ab");
  EXPECT_DOUBLE_EQ(t.replies[0].arrival_s, 0.07);
  EXPECT_EQ(t.replies[0].samples_sent, 1920u);
  EXPECT_EQ(t.replies[1].mode, "");
  EXPECT_TRUE(t.replies[1].is_final);
  u.replies[0] = "not json";
  EXPECT_NE(timeline_of(u).error, "");
}

// The client's timing record over the real transport (scripted recognizer, no models).
#include "fake_server.h"

TEST(LatencyLoopback, ClientRecordsFramesAndRepliesOnAnAbsoluteSchedule) {
  using namespace paraserve::server::testing;
  TestServer ts;
  ClientOptions o = ts.client(/*realtime=*/true);
  o.speed = 4.0;  // 60 ms frames every 15 ms
  ClientConnection c;
  c.connect(o);
  const auto pcm = tone(16000);
  const auto u = c.stream(pcm, 16000, "timed");
  ASSERT_TRUE(u.error.empty()) << u.error;
  ASSERT_EQ(u.frame_samples, 960u);
  ASSERT_EQ(u.frame_sent_s.size(), 17u);  // ceil(16000 / 960)
  for (std::size_t i = 1; i < u.frame_sent_s.size(); ++i) {
    EXPECT_GE(u.frame_sent_s[i], u.frame_sent_s[i - 1]);
    // Frame i is due at first + i * 15 ms; it is never early.
    EXPECT_GE(u.frame_sent_s[i] - u.frame_sent_s[0], i * 0.015 - 1e-3) << i;
  }
  EXPECT_GE(u.end_sent_s, u.frame_sent_s.back());
  ASSERT_EQ(u.reply_s.size(), u.replies.size());
  ASSERT_EQ(u.reply_samples_sent.size(), u.replies.size());
  for (std::size_t i = 1; i < u.replies.size(); ++i) {
    EXPECT_GE(u.reply_s[i], u.reply_s[i - 1]);
    EXPECT_GE(u.reply_samples_sent[i], u.reply_samples_sent[i - 1]);
  }
  // The fake sends one partial per 3200 samples: it cannot arrive before they were written.
  EXPECT_GE(u.reply_samples_sent.front(), 3200u);
  EXPECT_EQ(u.reply_samples_sent.back(), pcm.size());
}

TEST(LatencyLoopback, ASlowDecoderShowsAsPartialLag) {
  using namespace paraserve::server::testing;
  const auto pcm = tone(16000);
  auto run = [&](int delay_ms) {
    TestServer ts({}, delay_ms);
    ClientOptions o = ts.client(/*realtime=*/true);
    o.speed = 2.0;
    ClientConnection c;
    c.connect(o);
    return timeline_of(c.stream(pcm, 16000, "slow"));
  };
  const Calibration cal = calibrate(run(0));
  ASSERT_EQ(cal.error, "");
  ASSERT_EQ(cal.replies.size(), 6u);  // 5 partials + the final reply
  const auto fast = measure_stream(cal, run(0));
  // 100 ms per feed() call with a frame every 30 ms: each partial waits at least one slow call.
  const auto slow = measure_stream(cal, run(100));
  ASSERT_EQ(fast.error, "");
  ASSERT_EQ(slow.error, "");
  ASSERT_EQ(slow.partial_lag_s.size(), 5u);
  EXPECT_GT(percentiles(slow.partial_lag_s).p50, percentiles(fast.partial_lag_s).max + 0.05);
}
