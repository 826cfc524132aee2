// The worker side of one connection: builds the recognizer for each utterance's settings,
// feeds it the queued audio, runs its second passes, turns results into replies, and keeps
// the utterance's metrics and ledger records. Runs only in the connection's decoder tasks
// (one at a time); the transport never looks inside it. What it needs from the transport is
// an AudioBatch at a time (carrying that utterance's UtteranceSettings value) and a
// WorkerOutput to hand replies back. Internal to the server.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "observability/memtrace.h"
#include "server/protocol.h"
#include "server/recognizer.h"

namespace paraserve::server {

struct ServerContext;

// A batch of audio (and/or the end of stream) of one utterance, queued for the worker. Its
// audio is the next `bytes` bytes of the connection's audio FIFO (batches are queued in the
// order of their audio), read through AudioSource.
struct AudioBatch {
  std::size_t bytes = 0;
  bool finish = false;
  Mode mode = Mode::kTwoPass;          // FunASR reads mode per decode task
  std::string wav_name;
  UtteranceSettings settings;          // fixed for the whole utterance
  std::chrono::steady_clock::time_point audio_arrival{}, finish_arrival{};
};

// The connection's received audio, in order (decoder thread). The worker copies what it feeds
// and then consumes what the recognizer took: consumed bytes leave the connection's memory and
// its --max-pending-bytes account at once.
class AudioSource {
 public:
  virtual void peek_audio(std::size_t offset, std::size_t n, uint8_t* out) = 0;  // n unconsumed bytes from offset
  virtual void consume_audio(std::size_t n) = 0;            // drops the first n
 protected:
  ~AudioSource() = default;
};

// What the worker hands back (called on the decoder thread, in order).
class WorkerOutput {
 public:
  virtual void send_reply(std::string message) = 0;  // a reply for the client
  virtual void final_sent() = 0;                     // an utterance's final reply was sent
  virtual void decoding_failed(const std::string& what) = 0;  // the connection must close

 protected:
  ~WorkerOutput() = default;
};

class UtteranceWorker {
 public:
  // `ledger` belongs to the connection (it also records the transport's phases).
  UtteranceWorker(ServerContext& ctx, WorkerOutput& out, AudioSource& audio, LedgerSession& ledger);
  ~UtteranceWorker();
  UtteranceWorker(const UtteranceWorker&) = delete;
  UtteranceWorker& operator=(const UtteranceWorker&) = delete;

  // Takes the next batch (only when has_batch() is false).
  void start_batch(AudioBatch&& batch);
  bool has_batch() const { return cur_.has_value(); }
  bool batch_done() const { return cur_done_; }  // with has_batch(): nothing left to do with it
  // Feeds the batch on and, when it ends the utterance, finishes it. True: stopped with a
  // second pass pending (run second_pass() next). Afterwards, with no second pass pending,
  // the batch is done (take_done_batch()) unless decoding failed (the batch is dropped).
  bool step();
  // Runs the pending second pass; the rest of the batch, if any, is fed by step().
  void second_pass();
  // The batch once it is done; has_batch() is then false.
  AudioBatch take_done_batch();
  // Forgets the batch in hand and consumes its unread audio (the connection closes).
  void drop_batch();
  // Destroys the recognizer (the connection's state goes before its conn_close record).
  void release_recognizer() { recognizer_.reset(); }

 private:
  // Forwards the session's vad_end / offline_start events to the ledger.
  struct LedgerObserver final : SessionObserver {
    LedgerSession* ledger = nullptr;
    void on_vad_end(int64_t segment_ms) noexcept override {
      ledger->record(Phase::kVadEnd, {.segment_ms = segment_ms});
    }
    void on_offline_start(int64_t segment_ms) noexcept override {
      ledger->record(Phase::kOfflineStart, {.segment_ms = segment_ms});
    }
  };

  bool feed_batch(AudioBatch& batch);  // true: stopped for a second pass
  void complete_finish(AudioBatch& batch, std::chrono::steady_clock::time_point t0);
  void emit(const StreamResult& r, const AudioBatch& batch, std::chrono::steady_clock::time_point arrival);
  void failed(const std::exception& e);

  ServerContext& ctx_;
  WorkerOutput& out_;
  AudioSource& audio_;
  LedgerSession& ledger_;

  std::optional<AudioBatch> cur_;  // the batch being decoded
  std::size_t cur_off_ = 0;        // bytes of it consumed so far
  uint64_t cur_fed_ = 0;           // samples of it fed so far
  bool cur_started_ = false;       // its first step ran (recognizer set up)
  bool cur_fed_all_ = false;       // all of its audio was fed (and counted)
  bool cur_done_ = false;          // nothing left to do with it
  bool finishing_ = false;         // the pending second pass is the end of stream's

  LedgerObserver ledger_observer_;
  std::unique_ptr<Recognizer> recognizer_;
  UtteranceSettings recognizer_settings_;  // what recognizer_ was built for
  bool in_utterance_ = false;
  ReplyState reply_state_;
  bool has_carry_ = false;  // odd trailing byte of the previous batch
  uint8_t carry_ = 0;
  std::vector<int16_t> samples_;
  std::vector<StreamResult> results_;
  std::chrono::steady_clock::duration utt_compute_{};
  uint64_t utt_samples_ = 0;
  int utt_rate_ = 16000;
  double total_ms_ = 0;  // audio decoded on this connection (each utterance at its own rate)
};

}  // namespace paraserve::server
