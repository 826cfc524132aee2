// Offline transcription of whole files (`paraserve transcribe`), as FunASR's
// funasr-onnx-offline (FunOfflineInfer, funasrruntime.cpp; Audio::CutSplit, audio.cpp):
// the streaming FSMN-VAD fed in 1 s pieces (the last one final) -> each VAD segment through
// the offline Paraformer (batch 1: the CPU runtime's FetchDynamic never batches) -> segment
// texts concatenated -> offline punctuation -> token timestamps (FunOfflineInfer's float
// arithmetic) and sentence stamps. Without a VAD model the file is one segment.
//
// The work is incremental: audio is accepted in blocks, segments are recognised when the VAD
// closes them, punctuation runs window by window, and results go to a TranscriptSink as soon
// as they are final. With a VAD, memory is bounded by the longest segment (the VAD's
// max_single_segment_time) and does not grow with the file's length.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/engine.h"
#include "pipeline/offline_asr.h"
#include "pipeline/results.h"

namespace paraserve {

struct Transcript {
  struct Segment {
    int64_t start_ms = 0;
    int64_t end_ms = 0;
    std::string text;  // raw text of the segment
  };
  std::string text;                        // punctuated (when a punctuation model is loaded)
  std::vector<TokenStamp> timestamps;      // absolute ms; empty without a timestamp model
  std::vector<SentenceStamp> stamp_sents;  // built from text + timestamps
  std::vector<Segment> segments;
  double duration_s = 0;
  double processing_s = 0;
  double rtf() const { return duration_s > 0 ? processing_s / duration_s : 0; }
};

// Receives a transcript piece by piece, in order. The concatenation of on_text pieces is
// Transcript::text; of on_stamps, Transcript::timestamps; and so on.
class TranscriptSink {
 public:
  virtual ~TranscriptSink() = default;
  virtual void on_segment(const Transcript::Segment& /*segment*/) {}
  virtual void on_stamps(std::span<const TokenStamp> /*stamps*/) {}
  virtual void on_text(std::string_view /*text*/) {}
  virtual void on_sentence(const SentenceStamp& /*sentence*/) {}
};

// One file's transcription. Not thread-safe; one per file.
class TranscribeStream {
 public:
  TranscribeStream(std::shared_ptr<const Engine> engine, TranscriptSink& sink, const OfflineAsrOptions& options = {});
  ~TranscribeStream();
  TranscribeStream(const TranscribeStream&) = delete;
  TranscribeStream& operator=(const TranscribeStream&) = delete;

  // samples: 16 kHz mono floats in [-1, 1), any block size.
  void accept(std::span<const float> samples);
  // End of the file: flushes everything to the sink. Call once.
  void finish();
  double duration_s() const;
  // Bytes held by this stream's own buffers (audio history, text and stamp queues).
  std::size_t state_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Thread-safe: one Transcriber may serve many threads (all scratch is per call).
class Transcriber {
 public:
  // Throws without an offline model. `options`: SenseVoiceSmall's svs_lang / svs_itn.
  explicit Transcriber(std::shared_ptr<const Engine> engine, const OfflineAsrOptions& options = {});
  // samples: 16 kHz mono floats in [-1, 1). The whole transcript at once.
  Transcript transcribe(std::span<const float> samples) const;
  std::unique_ptr<TranscribeStream> stream(TranscriptSink& sink) const;

 private:
  std::shared_ptr<const Engine> engine_;
  OfflineAsrOptions options_;
};

}  // namespace paraserve
