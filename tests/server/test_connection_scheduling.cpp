// How a connection's queued audio is split into decoder tasks (src/server/connection.cpp,
// ConnectionCore::work). The connection runs on two single-threaded io_contexts that the test
// steps by hand (the socket side and the decoder side), so the order of events is exact.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <cstdint>
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

constexpr std::size_t kFrame = 1920;  // 60 ms at 16 kHz, what FunASR's clients send

struct Fixture {
  Fixture() {
    ctx.work = &work;
    ctx.metrics = &metrics;
    ctx.factory = [this](const SessionOptions&) { return std::make_unique<RecordingRecognizer>(rec); };
    conn = std::make_shared<TestConnection>(ctx, io.get_executor());
    EXPECT_TRUE(conn->admit());
    conn->on_text(R"({"mode":"2pass","wav_name":"w","is_speaking":true})");
  }
  ~Fixture() {
    conn->force_close();
    conn.reset();
    io_guard.reset();
    work_guard.reset();
    while (io.poll() + work.poll() > 0) {
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
  boost::asio::io_context io, work;  // stepped with poll_one()/poll(), never blocking
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> io_guard{io.get_executor()},
      work_guard{work.get_executor()};
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

  ASSERT_EQ(f.work.poll_one(), 1u);  // exactly one decoder task
  EXPECT_EQ(f.rec.fed * 2, first + rest);
  EXPECT_EQ(f.rec.finishes, 1);
  f.io.poll();
  EXPECT_EQ(f.finals(), 1u);
  EXPECT_EQ(f.work.poll(), 0u);  // nothing left for another task
}

// The exception is only for the end of an utterance: a batch that does not end it waits for
// the next task, behind the other connections' work (one connection cannot keep a decoder
// thread while its client keeps sending).
TEST(ConnectionScheduling, AMidUtteranceBatchWaitsForTheNextTask) {
  Fixture f;
  const std::size_t first = f.send_until_paused();
  std::vector<int> order;
  boost::asio::post(f.work, [&] { order.push_back(1); });  // another connection's task, queued behind
  f.rec.on_feed = [&] {
    f.io.poll();
    for (int i = 0; i < 40; ++i) f.conn->receive(f.frame);  // more audio, no end yet
  };

  ASSERT_EQ(f.work.poll_one(), 1u);
  EXPECT_EQ(f.rec.fed * 2, first);
  EXPECT_EQ(f.rec.finishes, 0);
  EXPECT_TRUE(order.empty());

  // The other connection's task runs before this connection's next batch.
  f.rec.on_feed = [&] { order.push_back(0); };
  ASSERT_EQ(f.work.poll_one(), 1u);
  ASSERT_EQ(f.work.poll_one(), 1u);
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
  ASSERT_EQ(f.work.poll_one(), 1u);
  EXPECT_EQ(f.rec.finishes, 1);
  EXPECT_EQ(f.rec.fed * 2, 10 * kFrame);
  f.io.poll();
  EXPECT_EQ(f.finals(), 1u);

  f.conn->on_text(R"({"is_speaking":true})");
  for (int i = 0; i < 5; ++i) f.conn->receive(f.frame);
  f.conn->on_text(R"({"is_speaking":false})");
  ASSERT_EQ(f.work.poll_one(), 1u);
  EXPECT_EQ(f.rec.finishes, 2);
  EXPECT_EQ(f.rec.fed * 2, 15 * kFrame);
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
  f.rec.on_feed = nullptr;
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
  for (int i = 0; i < 20 && resumes < 3; ++i) f.work.poll_one();
  EXPECT_EQ(resumes, 3u);
  EXPECT_LE(most_held, bound + kFrame);
}

}  // namespace
}  // namespace paraserve::server
