// Per-connection protocol state and the worker side of a connection. Internal to the server.
// I/O-strand members are touched only by the connection's socket strand; worker members only
// by its decoder tasks (the WorkScheduler runs them one at a time, in order); the inbox (audio
// waiting for decoding) is shared under `mu_`.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "common/rate_limited_log.h"
#include "observability/idle_purger.h"
#include "observability/memtrace.h"
#include "server/config.h"
#include "server/protocol.h"
#include "server/recognizer.h"
#include "server/server_metrics.h"
#include "server/work_scheduler.h"

namespace paraserve::server {

class ConnectionCore;

// Server-wide state shared by every connection (read-mostly; the session registry is
// touched only when a session opens or closes, never per chunk).
struct ServerContext {
  ServerConfig config;
  RecognizerFactory factory;
  ServerMetrics* metrics = nullptr;
  MemoryLedger* ledger = nullptr;
  WorkActivity* activity = nullptr;  // decode tasks started/finished (observability/idle_purger.h)
  WorkScheduler* scheduler = nullptr;  // runs the connections' decoder tasks

  std::mutex mu;
  std::condition_variable cv;  // signalled when the registry empties during a drain
  std::unordered_map<uint64_t, std::weak_ptr<ConnectionCore>> sessions;
  bool draining = false;
  uint64_t next_id = 1;

  // Per-event log lines that a client (or many) can repeat are rate-limited.
  RateLimitedLog log_protocol{std::chrono::seconds(10), 20};  // protocol errors (info)
  RateLimitedLog log_slow{std::chrono::seconds(10), 5};       // slow-client closes (warn)
  RateLimitedLog log_decode{std::chrono::seconds(10), 5};     // decoding failures (error)
  RateLimitedLog log_accept{std::chrono::seconds(10), 3};     // accept failures (warn)

  // Registers the session; returns an error message when refused.
  std::string try_admit(const std::shared_ptr<ConnectionCore>& core, uint64_t& id);
  void release(uint64_t id);
};

// WebSocket close codes used by the server (RFC 6455).
enum class CloseCode : uint16_t {
  kNormal = 1000,
  kGoingAway = 1001,
  kUnsupported = 1003,
  kInvalidPayload = 1007,
  kPolicy = 1008,
  kTooBig = 1009,
  kTryAgainLater = 1013,
};

class ConnectionCore : public WorkItem, public std::enable_shared_from_this<ConnectionCore> {
 public:
  ConnectionCore(ServerContext& ctx, boost::asio::any_io_executor io_executor);
  virtual ~ConnectionCore();
  ConnectionCore(const ConnectionCore&) = delete;
  ConnectionCore& operator=(const ConnectionCore&) = delete;

  // --- I/O strand ---
  // After the WebSocket handshake: false if refused (an error reply and close are queued).
  bool admit();
  void on_text(std::string_view text);
  // One piece of a binary message (a message may arrive in several pieces). Returns false
  // when reading must pause (too much audio pending, or closing).
  bool on_binary(std::span<const uint8_t> data);
  void on_socket_closed();
  void begin_drain();
  // The drain deadline: queued replies are flushed, then the session is closed with 1001.
  void drain_deadline() { close_after_flush(CloseCode::kGoingAway); }
  void fail(const std::string& error, CloseCode code);  // error reply, then close
  // True while an end of stream waits for its final reply. The transport does not read
  // further while it does: a client that half-closes after its end of stream still gets
  // every reply (reading the end of file would end the WebSocket stream).
  bool awaiting_final() const { return finals_owed_ > 0; }

  // Implemented by the transport (always called on the I/O strand).
  virtual void send(std::string message) = 0;
  virtual void close_after_flush(CloseCode code) = 0;
  virtual void force_close() = 0;
  virtual void resume_reading() = 0;

  const boost::asio::any_io_executor& io_executor() const { return io_; }

 protected:
  ServerContext& ctx_;

 private:
  // A batch of audio (and/or the end of stream) of one utterance, queued for the worker.
  struct Segment {
    std::vector<uint8_t> bytes;
    bool finish = false;
    Mode mode = Mode::kTwoPass;          // FunASR reads mode per decode task
    std::string wav_name;
    UtteranceSettings settings;          // fixed for the whole utterance
    std::chrono::steady_clock::time_point audio_arrival{}, finish_arrival{};
  };

  // Forwards the session's vad_end / offline_start events to the ledger (worker strand).
  struct LedgerObserver final : SessionObserver {
    LedgerSession* ledger = nullptr;
    void on_vad_end(int64_t segment_ms) noexcept override {
      ledger->record(Phase::kVadEnd, {.segment_ms = segment_ms});
    }
    void on_offline_start(int64_t segment_ms) noexcept override {
      ledger->record(Phase::kOfflineStart, {.segment_ms = segment_ms});
    }
  };

  const UtteranceSettings& utterance();  // this utterance's settings (fixed at first use)
  bool enqueue_audio(std::span<const uint8_t> data);
  void enqueue_finish();
  Segment& open_segment_locked();
  void schedule_locked();
  void on_final_delivered();  // I/O strand
  void maybe_close_drained();

  // Worker side (decoder tasks). One task: kPartial feeds queued audio (VAD + online pass)
  // until the batch is done or a finished segment's second pass is pending; kSecondPass runs
  // that second pass. Returns the class of the connection's next task, if it has one.
  std::optional<WorkClass> run_work(WorkClass cls) override;
  std::optional<WorkClass> next_task();     // after a task: more work queued or in hand?
  std::optional<WorkClass> drop_all();      // closed: forget the queued work
  bool step_segment();                      // feeds cur_ on; true: a second pass is pending
  bool feed_segment(Segment& seg);          // true: stopped for a second pass
  void second_pass_step();
  void complete_finish(Segment& seg, std::chrono::steady_clock::time_point t0);
  void done_with_segment();                 // recycles cur_'s buffer
  void decoding_failed(const std::exception& e);
  void emit(const StreamResult& r, const Segment& seg, std::chrono::steady_clock::time_point arrival);
  void post_to_io_send(std::string message);

  boost::asio::any_io_executor io_;
  uint64_t id_ = 0;
  LedgerSession ledger_;
  std::atomic<bool> closed_{false};

  // I/O strand only.
  ClientParams params_;
  std::optional<UtteranceSettings> utt_;  // settings of the utterance in progress
  std::vector<uint8_t> prebuf_;  // audio before the first JSON message (FunASR keeps < 1600 B of it)
  uint64_t audio_bytes_ = 0;
  double audio_s_ = 0;           // decoded audio duration, all utterances (--max-session-audio)
  bool utterance_open_ = false;
  int finals_owed_ = 0;
  bool draining_ = false;
  bool first_audio_ = true;

  // Shared with the worker, under mu_.
  std::mutex mu_;
  std::deque<Segment> inbox_;
  std::size_t pending_bytes_ = 0;
  bool scheduled_ = false;
  bool paused_ = false;
  std::vector<std::vector<uint8_t>> spare_;  // recycled audio buffers (at most 2)

  // Worker side only.
  std::optional<Segment> cur_;   // the batch being decoded (taken from the inbox)
  std::size_t cur_off_ = 0;      // bytes of cur_ fed so far
  uint64_t cur_fed_ = 0;         // samples of cur_ fed so far
  bool cur_started_ = false;     // cur_'s first step ran (recognizer set up)
  bool cur_fed_all_ = false;     // all of cur_'s audio was fed (and counted)
  bool finishing_ = false;       // the pending second pass is the end of stream's
  LedgerObserver ledger_observer_;
  std::unique_ptr<Recognizer> recognizer_;
  UtteranceSettings recognizer_settings_;  // what recognizer_ was built for
  bool in_utterance_ = false;
  ReplyState reply_state_;
  bool has_carry_ = false;  // odd trailing byte of the previous frame
  uint8_t carry_ = 0;
  std::vector<int16_t> samples_;
  std::vector<StreamResult> results_;
  std::chrono::steady_clock::duration utt_compute_{};
  uint64_t utt_samples_ = 0;
  int utt_rate_ = 16000;
  double total_ms_ = 0;  // audio decoded on this connection (each utterance at its own rate)
};

}  // namespace paraserve::server
