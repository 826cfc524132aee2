// How a connection's queued audio is split into decoder tasks (src/server/connection.cpp,
// ConnectionCore::run_work). The socket side runs on a single-threaded io_context and the
// decoder side on a WorkScheduler without threads; the test steps both by hand, so the order
// of events is exact.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <cstdint>
#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "observability/metrics.h"
#include "server/connection.h"
#include "server/server_metrics.h"

namespace paraserve::server {
namespace {

// Counts what the decoder was given; `on_feed` runs inside feed(), i.e. while a decoder task
// is running (the test uses it for audio that arrives on the socket meanwhile).
struct Recording {
  uint64_t fed = 0;
  int feeds = 0;
  int finishes = 0;
  std::function<void()> on_feed;
};

class RecordingRecognizer final : public Recognizer {
 public:
  explicit RecordingRecognizer(Recording& r) : r_(r) {}
  void set_mode(Mode) override {}
  void feed(std::span<const int16_t> pcm, std::vector<StreamResult>&) override {
    r_.fed += pcm.size();
    ++r_.feeds;
    if (r_.on_feed) std::exchange(r_.on_feed, nullptr)();
  }
  void finish(std::vector<StreamResult>& out) override {
    ++r_.finishes;
    StreamResult r;
    r.is_final = true;
    r.has_offline = true;
    r.offline_text = "done";
    out.push_back(r);
  }
  std::size_t state_bytes() const override { return 0; }

 private:
  Recording& r_;
};

class TestConnection final : public ConnectionCore {
 public:
  using ConnectionCore::ConnectionCore;
  void send(std::string message) override { replies.push_back(std::move(message)); }
  void close_after_flush(CloseCode) override { closed = true; }
  void force_close() override {
    closed = true;
    on_socket_closed();
  }
  void resume_reading() override { paused = false; }

  // What the transport does with one received binary piece.
  void receive(std::span<const uint8_t> piece) {
    if (!on_binary(piece)) paused = true;
  }

  std::vector<std::string> replies;
  bool closed = false, paused = false;
};

// Another connection's task.
struct FnItem final : WorkItem {
  explicit FnItem(std::function<void()> f) : fn(std::move(f)) {}
  std::optional<WorkClass> run_work(WorkClass) override {
    fn();
    return std::nullopt;
  }
  std::function<void()> fn;
};

constexpr std::size_t kFrame = 1920;  // 60 ms at 16 kHz, what FunASR's clients send

// A recognizer with a second pass, like StreamSession: a partial ("p<n>") per 1600 samples,
// and every 4800 samples a segment ends; that piece's result also carries the segment's
// second-pass text ("s<k>"). `stepped`: the second pass is a separate step (what the server
// schedules as low-priority work); otherwise it runs inside feed()/finish().
class SegmentRecognizer final : public Recognizer {
 public:
  SegmentRecognizer(bool stepped, int& second_passes) : stepped_(stepped), second_passes_(second_passes) {}
  void set_mode(Mode) override {}
  void feed(std::span<const int16_t> pcm, std::vector<StreamResult>& out) override {
    while (!pcm.empty()) {
      pcm = pcm.subspan(take(pcm, out));
      run_second_pass(out);
    }
  }
  void finish(std::vector<StreamResult>& out) override {
    if (!begin_finish(out)) run_second_pass(out);
  }
  std::size_t feed_until_second_pass(std::span<const int16_t> pcm, std::vector<StreamResult>& out) override {
    if (!stepped_) {
      feed(pcm, out);
      return pcm.size();
    }
    return take(pcm, out);
  }
  bool begin_finish(std::vector<StreamResult>& out) override {
    EXPECT_FALSE(pending_);
    StreamResult r;
    r.online_text = "p" + std::to_string(++pieces_);
    const bool inside = since_ > 0 || in_piece_ > 0;
    in_piece_ = 0;
    if (inside) {  // ends inside a segment: its second pass makes the final
      pending_ = true;
      pending_final_ = true;
      pending_result_ = r;
      if (stepped_) return false;
      run_second_pass(out);
      return true;
    }
    r.is_final = true;
    out.push_back(r);
    return true;
  }
  bool second_pass_pending() const override { return pending_; }
  void run_second_pass(std::vector<StreamResult>& out) override {
    if (!pending_) return;
    ++second_passes_;
    pending_ = false;
    StreamResult r = pending_result_;
    r.has_offline = true;
    r.offline_text = "s" + std::to_string(++segments_);
    r.is_final = pending_final_;
    pending_final_ = false;
    since_ = 0;
    out.push_back(r);
  }
  std::size_t state_bytes() const override { return 0; }

 private:
  // Takes samples up to the end of a segment (then a second pass is pending).
  std::size_t take(std::span<const int16_t> pcm, std::vector<StreamResult>& out) {
    EXPECT_FALSE(pending_);
    std::size_t used = 0;
    while (used < pcm.size()) {
      const std::size_t n = std::min<std::size_t>(1600 - in_piece_, pcm.size() - used);
      used += n;
      in_piece_ += n;
      if (in_piece_ < 1600) break;
      in_piece_ = 0;
      since_ += 1600;
      StreamResult r;
      r.online_text = "p" + std::to_string(++pieces_);
      if (since_ >= 4800) {
        pending_ = true;
        pending_result_ = r;
        return used;
      }
      out.push_back(r);
    }
    return used;
  }

  bool stepped_;
  int& second_passes_;
  std::size_t in_piece_ = 0, since_ = 0;
  int pieces_ = 0, segments_ = 0;
  bool pending_ = false, pending_final_ = false;
  StreamResult pending_result_;
};

struct Fixture {
  // segments: a SegmentRecognizer (second passes stepped or not) instead of the recording one.
  enum class Rec { kRecording, kSegmentsStepped, kSegmentsInline };
  explicit Fixture(Rec kind = Rec::kRecording) {
    ctx.scheduler = &sched;
    ctx.metrics = &metrics;
    ctx.factory = [this, kind](const SessionOptions&) -> std::unique_ptr<Recognizer> {
      if (kind == Rec::kRecording) return std::make_unique<RecordingRecognizer>(rec);
      return std::make_unique<SegmentRecognizer>(kind == Rec::kSegmentsStepped, second_passes);
    };
    conn = std::make_shared<TestConnection>(ctx, io.get_executor());
    EXPECT_TRUE(conn->admit());
    conn->on_text(R"({"mode":"2pass","wav_name":"w","is_speaking":true})");
  }
  ~Fixture() {
    conn->force_close();
    conn.reset();
    io_guard.reset();
    for (;;) {
      const bool ran = sched.run_one();
      if (io.poll() == 0 && !ran) break;
    }
  }
  // A client sending as fast as it can: frames until the server stops reading (backpressure).
  std::size_t send_until_paused() {
    std::size_t sent = 0;
    while (!conn->paused) {
      conn->receive(frame);
      sent += frame.size();
    }
    return sent;
  }
  std::size_t finals() const {
    std::size_t n = 0;
    for (const auto& r : conn->replies) n += r.find("\"is_final\":true") != std::string::npos;
    return n;
  }

  // Declared before the io_contexts: a connection destroyed with their handlers releases into it.
  Metrics registry;
  ServerMetrics metrics{registry, {}};
  ServerContext ctx;
  Recording rec;
  int second_passes = 0;
  boost::asio::io_context io;  // stepped with poll(), never blocking
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> io_guard{io.get_executor()};
  // Stepped with run_one() (no threads); second passes deferred (the default does not defer).
  WorkScheduler sched{SchedulerPolicy{.second_pass_max_wait = std::chrono::milliseconds(500)}};
  std::shared_ptr<TestConnection> conn;
  std::vector<uint8_t> frame = std::vector<uint8_t>(kFrame, 0x11);
};

// A fast client's file is larger than --max-pending-bytes: the server stops reading at the
// bound, the decoder takes that batch, and the rest of the file and the end of stream arrive
// while it decodes. The utterance must be decoded to its end in that same task: yielding
// before the last batch kept every such connection mid-utterance at once (its segment's
// history and decoder state resident), which raised the tiny-model soak's (peak - idle)/16
// from 1.7 MB to 2.4 MB (docs/memory.md, "The per-session peak since issue 10").
TEST(ConnectionScheduling, AnUtteranceWhoseEndIsQueuedIsDecodedToTheEndInTheSameTask) {
  Fixture f;
  const std::size_t first = f.send_until_paused();
  ASSERT_GT(first, f.ctx.config.limits.max_pending_bytes);
  std::size_t rest = 40 * kFrame;
  // The socket side, while the decoder works on the first batch: reading resumes once the
  // decoder has consumed half of what was queued; then the rest of the file and its end arrive.
  std::function<void()> socket_side = [&] {
    f.io.poll();
    if (f.conn->paused) {
      f.rec.on_feed = socket_side;  // not yet: look again after the next slice
      return;
    }
    EXPECT_GE(f.rec.fed * 2, first - f.ctx.config.limits.max_pending_bytes / 2);
    for (std::size_t i = 0; i < rest / kFrame; ++i) f.conn->receive(f.frame);
    f.conn->on_text(R"({"is_speaking":false})");
  };
  f.rec.on_feed = socket_side;

  ASSERT_TRUE(f.sched.run_one());  // exactly one decoder task
  EXPECT_EQ(f.rec.fed * 2, first + rest);
  EXPECT_EQ(f.rec.finishes, 1);
  f.io.poll();
  EXPECT_EQ(f.finals(), 1u);
  EXPECT_FALSE(f.sched.run_one());  // nothing left for another task
}

// The exception is only for the end of an utterance: a batch that does not end it waits for
// the next task, behind the other connections' work (one connection cannot keep a decoder
// thread while its client keeps sending).
TEST(ConnectionScheduling, AMidUtteranceBatchWaitsForTheNextTask) {
  Fixture f;
  const std::size_t first = f.send_until_paused();
  std::vector<int> order;
  auto other = std::make_shared<FnItem>([&] { order.push_back(1); });
  f.sched.post(other, WorkClass::kPartial);  // another connection's task, queued behind
  f.rec.on_feed = [&] {
    f.io.poll();
    for (int i = 0; i < 40; ++i) f.conn->receive(f.frame);  // more audio, no end yet
  };

  ASSERT_TRUE(f.sched.run_one());
  EXPECT_EQ(f.rec.fed * 2, first);
  EXPECT_EQ(f.rec.finishes, 0);
  EXPECT_TRUE(order.empty());

  // The other connection's task runs before this connection's next batch.
  f.rec.on_feed = [&] { order.push_back(0); };
  ASSERT_TRUE(f.sched.run_one());
  ASSERT_TRUE(f.sched.run_one());
  EXPECT_EQ(order, (std::vector<int>{1, 0}));
  EXPECT_EQ(f.rec.fed * 2, first + 40 * kFrame);
  EXPECT_EQ(f.rec.finishes, 0);
}

// A batch that ends the utterance on its own (the whole file fitted under the bound) is one
// task as before, and the next utterance on the connection starts a new one.
TEST(ConnectionScheduling, EachUtteranceEndsItsTask) {
  Fixture f;
  for (int i = 0; i < 10; ++i) f.conn->receive(f.frame);
  f.conn->on_text(R"({"is_speaking":false})");
  ASSERT_TRUE(f.sched.run_one());
  EXPECT_EQ(f.rec.finishes, 1);
  EXPECT_EQ(f.rec.fed * 2, 10 * kFrame);
  f.io.poll();
  EXPECT_EQ(f.finals(), 1u);

  f.conn->on_text(R"({"is_speaking":true})");
  for (int i = 0; i < 5; ++i) f.conn->receive(f.frame);
  f.conn->on_text(R"({"is_speaking":false})");
  ASSERT_TRUE(f.sched.run_one());
  EXPECT_EQ(f.rec.finishes, 2);
  EXPECT_EQ(f.rec.fed * 2, 15 * kFrame);
}

// A finished segment's second pass is a task of its own, of the second-pass class: the
// partial work of another connection queued meanwhile runs first; the rest of the batch
// (audio after the segment's end) is fed by a later partial task. The replies are the same,
// in the same order, as with the second pass run inside feed().
TEST(ConnectionScheduling, ASecondPassWaitsBehindPartialWorkAndRepliesStayTheSame) {
  Fixture f(Fixture::Rec::kSegmentsStepped);
  std::vector<int> order;
  for (int i = 0; i < 6; ++i) f.conn->receive(f.frame);  // 5760 samples: one segment end at 4800
  ASSERT_TRUE(f.sched.run_one());                        // feeds up to the segment's end
  EXPECT_EQ(f.second_passes, 0);
  EXPECT_EQ(f.sched.queued(WorkClass::kSecondPass), 1u);
  auto other = std::make_shared<FnItem>([&] { order.push_back(1); });
  f.sched.post(other, WorkClass::kPartial);              // another connection's audio
  ASSERT_TRUE(f.sched.run_one());
  EXPECT_EQ(order, std::vector<int>{1});                 // ran before the second pass
  EXPECT_EQ(f.second_passes, 0);
  ASSERT_TRUE(f.sched.run_one());                        // the second pass
  EXPECT_EQ(f.second_passes, 1);
  EXPECT_EQ(f.sched.queued(WorkClass::kPartial), 1u);    // the rest of the batch
  ASSERT_TRUE(f.sched.run_one());
  EXPECT_FALSE(f.sched.run_one());
  // More audio and the end: the end of stream's own second pass makes the final reply.
  for (int i = 0; i < 5; ++i) f.conn->receive(f.frame);  // 10560 samples in all
  f.conn->on_text(R"({"is_speaking":false})");
  while (f.sched.run_one()) {
  }
  f.io.poll();
  EXPECT_EQ(f.second_passes, 3);
  EXPECT_EQ(f.finals(), 1u);
  EXPECT_FALSE(f.conn->awaiting_final());

  Fixture g(Fixture::Rec::kSegmentsInline);  // the same client, second passes inside feed()
  for (int i = 0; i < 6; ++i) g.conn->receive(g.frame);
  while (g.sched.run_one()) {
  }
  for (int i = 0; i < 5; ++i) g.conn->receive(g.frame);
  g.conn->on_text(R"({"is_speaking":false})");
  while (g.sched.run_one()) {
  }
  g.io.poll();
  EXPECT_EQ(g.second_passes, 3);
  ASSERT_FALSE(f.conn->replies.empty());
  EXPECT_EQ(f.conn->replies, g.conn->replies);
  EXPECT_NE(f.conn->replies.back().find("\"is_final\":true"), std::string::npos);
}

// Audio sent as fast as possible with several segment ends per batch: everything is fed once,
// in order, across the second-pass stops (odd byte counts included), and the replies equal
// those of the inline second pass.
TEST(ConnectionScheduling, SteppedSecondPassesFeedEveryByteOnce) {
  std::vector<std::string> replies[2];
  int passes[2] = {0, 0};
  for (int k = 0; k < 2; ++k) {
    Fixture f(k == 0 ? Fixture::Rec::kSegmentsStepped : Fixture::Rec::kSegmentsInline);
    std::vector<uint8_t> odd(1921, 0x22);
    for (int i = 0; i < 30; ++i) f.conn->receive(odd);
    f.conn->on_text(R"({"is_speaking":false})");
    while (f.sched.run_one()) f.io.poll();
    f.io.poll();
    EXPECT_EQ(f.finals(), 1u);
    replies[k] = f.conn->replies;
    passes[k] = f.second_passes;
  }
  EXPECT_EQ(passes[0], passes[1]);
  EXPECT_GE(passes[0], 5);  // 28815 samples: 6 segment ends, the end inside the 7th
  EXPECT_EQ(replies[0], replies[1]);
}

// --max-pending-bytes bounds the audio a connection holds that the decoder has not consumed,
// including the rest of the batch it is working on: reading resumes only when that is down to
// half the bound (it resumed as soon as the decoder took a batch, so a fast client's
// connection held up to twice the bound).
TEST(ConnectionScheduling, ReadingResumesWhenHalfTheUndecodedAudioIsConsumed) {
  Fixture f;
  const std::size_t bound = f.ctx.config.limits.max_pending_bytes;
  std::size_t received = f.send_until_paused();
  ASSERT_GT(received, bound);
  std::size_t most_held = 0;
  std::size_t resumes = 0;
  // A client that keeps sending whenever the server reads: check the undecoded audio each time
  // the decoder consumes a slice.
  std::function<void()> socket_side = [&] {
    f.io.poll();
    if (!f.conn->paused) {
      ++resumes;
      while (!f.conn->paused) {
        f.conn->receive(f.frame);
        received += f.frame.size();
      }
    }
    most_held = std::max(most_held, received - static_cast<std::size_t>(f.rec.fed) * 2);
    if (resumes < 3) f.rec.on_feed = socket_side;
  };
  f.rec.on_feed = socket_side;
  for (int i = 0; i < 20 && resumes < 3; ++i) f.sched.run_one();
  EXPECT_EQ(resumes, 3u);
  EXPECT_LE(most_held, bound + kFrame);
}

}  // namespace
}  // namespace paraserve::server
