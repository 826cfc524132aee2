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

  // Bytes currently reserved by this session's own state (caches, buffers, histories).
  std::size_t state_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace paraserve
