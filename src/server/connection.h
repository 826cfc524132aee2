// Per-connection protocol state, and the hand-over of its audio to the worker side
// (UtteranceWorker, utterance_worker.h). Internal to the server. I/O-strand members are
// touched only by the connection's socket strand; the worker only by its decoder tasks (the
// WorkScheduler runs them one at a time, in order); the inbox (audio waiting for decoding) is
// shared under `mu_`.
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

#include "common/block_fifo.h"
#include "common/rate_limited_log.h"
#include "observability/idle_purger.h"
#include "observability/memtrace.h"
#include "server/config.h"
#include "server/protocol.h"
#include "server/recognizer.h"
#include "server/server_metrics.h"
#include "server/utterance_worker.h"
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

class ConnectionCore : public WorkItem,
                       private WorkerOutput,
                       private AudioSource,
                       public std::enable_shared_from_this<ConnectionCore> {
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
  const UtteranceSettings& utterance();  // this utterance's settings (fixed at first use)
  bool enqueue_audio(std::span<const uint8_t> data);
  void enqueue_finish();
  AudioBatch& open_batch_locked();
  void schedule_locked();
  void on_final_delivered();  // I/O strand
  void maybe_close_drained();

  // Worker side (decoder tasks). One task: kPartial feeds queued audio (VAD + online pass)
  // until the batch is done or a finished segment's second pass is pending; kSecondPass runs
  // that second pass. Returns the class of the connection's next task, if it has one.
  std::optional<WorkClass> run_work(WorkClass cls) override;
  std::optional<WorkClass> next_task();  // after a task: more work queued or in hand?
  std::optional<WorkClass> drop_all();   // closed: forget the queued work
  void forget_queued_locked();           // drops the inbox and its audio (under mu_)
  void post_to_io_send(std::string message);
  // WorkerOutput (decoder thread).
  void send_reply(std::string message) override;
  void final_sent() override;
  void decoding_failed(const std::string& what) override;
  // AudioSource (decoder thread): the FIFO's front, under mu_.
  void peek_audio(std::size_t offset, std::size_t n, uint8_t* out) override;
  void consume_audio(std::size_t n) override;

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
  std::deque<AudioBatch> inbox_;
  // Received audio not yet fed to the recognizer, in fixed-size blocks: memory follows the
  // bytes held (no vector doubling; blocks are freed as the worker consumes them). Holds the
  // queued batches plus the unconsumed part of the one being decoded.
  BlockFifo<uint8_t> audio_;
  std::size_t pending_bytes_ = 0;  // bytes in audio_: received, not yet fed to the recognizer
  bool scheduled_ = false;
  bool paused_ = false;

  // Worker side only (after ledger_: it records into it).
  UtteranceWorker worker_;
};

}  // namespace paraserve::server
