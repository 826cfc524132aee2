// Offline transcription of whole files (`paraserve transcribe`): offline VAD segmentation ->
// per-segment offline Paraformer -> offline punctuation over the whole text -> token
// timestamps and sentence stamps. Without a VAD model the file is one segment.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "pipeline/engine.h"
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

// Thread-safe: one Transcriber may serve many threads (all scratch is per call).
class Transcriber {
 public:
  explicit Transcriber(std::shared_ptr<const Engine> engine);  // throws without an offline model
  // samples: 16 kHz mono floats in [-1, 1).
  Transcript transcribe(std::span<const float> samples) const;

 private:
  std::shared_ptr<const Engine> engine_;
};

}  // namespace paraserve
