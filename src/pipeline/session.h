// Streaming 2pass session: one per audio stream, used by one thread at a time.
// Lifecycle: construct -> feed()* -> finish() -> (feed()* -> finish())* -> destroy.
// finish() resets the session for the next utterance on the same stream.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "pipeline/engine.h"
#include "pipeline/results.h"

namespace paraserve {

// Optional hook for phase events inside feed()/finish() (the server's memory ledger uses it).
// Called on the thread running feed()/finish(), before the work the event names; must not
// throw. With no observer the cost is one branch per piece.
class SessionObserver {
 public:
  // The VAD closed a speech segment of segment_ms (-1 if its start is unknown).
  virtual void on_vad_end(int64_t segment_ms) noexcept = 0;
  // The second (offline) pass is about to run on a segment of segment_ms.
  virtual void on_offline_start(int64_t segment_ms) noexcept = 0;

 protected:
  ~SessionObserver() = default;
};

struct SessionOptions {
  Mode mode = Mode::kTwoPass;
  ChunkSize chunk;             // validated: chunk.chunk > 0, left/right >= 0
  int sample_rate = 16000;     // rate of the PCM passed to feed(); resampled to 16 kHz with carried state
  bool itn = true;             // ITN on the offline (2pass-offline / offline) text, if the engine has an ITN model
  std::string hotwords;        // FunASR's hotwords string: a JSON object biases the LM search (if any)
  std::string svs_lang = "auto";  // SenseVoiceSmall offline model only: language (FunASR default "auto")
  bool svs_itn = true;            // SenseVoiceSmall only: withitn (true) / woitn
  std::string wav_format = "pcm";  // anything but pcm/PCM: finish() reports FunASR's PCM-only error
  SessionObserver* observer = nullptr;  // not owned; must outlive the session
};

class StreamSession {
 public:
  StreamSession(std::shared_ptr<const Engine> engine, const SessionOptions& options);
  ~StreamSession();
  StreamSession(const StreamSession&) = delete;
  StreamSession& operator=(const StreamSession&) = delete;

  // Mode may change between messages (FunASR reads it per task).
  void set_mode(Mode mode);
  const SessionOptions& options() const;

  // Appends a result for every completed 800-sample piece that produced text.
  void feed(std::span<const int16_t> pcm, std::vector<StreamResult>& out);
  // Flushes the stream; appends the results still owed, the last one with is_final = true.
  void finish(std::vector<StreamResult>& out);

  // The same work in steps, so that a scheduler can run the second (offline) pass of a
  // finished segment as separate, lower-priority work. feed() == feed_until_second_pass()
  // + run_second_pass() until all is fed; finish() == begin_finish() (+ run_second_pass()
  // when it returns false). The results, their order and content are the same either way.
  //
  // Feeds pieces like feed() but stops right after a piece whose VAD ended a segment (its
  // result waits for the second pass). Returns how many samples were taken; the caller
  // keeps the rest and feeds it after run_second_pass().
  std::size_t feed_until_second_pass(std::span<const int16_t> pcm, std::vector<StreamResult>& out);
  // Starts the end of stream; false when its last piece waits for the second pass (the
  // final result then comes from run_second_pass()).
  bool begin_finish(std::vector<StreamResult>& out);
  // True between a stop of feed_until_second_pass()/begin_finish() and run_second_pass();
  // feeding or finishing meanwhile throws.
  bool second_pass_pending() const;
  // Runs the pending second pass (offline recognizer, punctuation, stamps) and appends
  // the piece's result (for an end of stream: the final one). No-op when none is pending.
  void run_second_pass(std::vector<StreamResult>& out);

  // Bytes currently reserved by this session's own state (caches, buffers, histories).
  std::size_t state_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace paraserve
