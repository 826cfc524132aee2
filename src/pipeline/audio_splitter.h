// VAD-driven splitting of a live stream into online chunks and offline segments:
// FunASR's Audio::Split for 2pass (funasr-compat.md §2.5 steps 3 and 7). Pure bookkeeping
// over a bounded audio history; no models. Times are VAD ms (1 ms = 16 samples at 16 kHz).
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/block_fifo.h"
#include "pipeline/results.h"

namespace paraserve {

// One VAD event of the latest piece: [s,-1] start, [-1,e] end, [s,e] both (ms, -1 = absent).
struct SplitEdge {
  int64_t start_ms = -1;
  int64_t end_ms = -1;
};

// A queued frame: a range of the stream's 16 kHz samples (absolute sample index).
struct SplitFrame {
  int64_t first_sample = 0;
  int64_t num_samples = 0;
  int64_t global_start_ms = 0;  // FunASR's frame->global_start (offline timestamps are relative to it)
  bool is_final = false;
};

struct AudioSplitterConfig {
  int chunk_len = 9600;                  // chunk_size[1] * 960 samples
  int64_t max_single_segment_ms = 60000; // VAD config; bounds the history
  void validate() const;                 // throws paraserve::Error
};

class AudioSplitter {
 public:
  static constexpr int kSamplesPerMs = 16;
  static constexpr int64_t kKeepBeforeSpeech = 32000;  // 2 s kept outside speech (audio.cpp vector_cache)
  // History storage: 0.5 s blocks allocated as the segment grows (up to the bound) and freed
  // as it is trimmed, two kept spare, so a session costs what it holds (~200 KB outside
  // speech), not the 4.2 MB bound.
  static constexpr std::size_t kBlockSamples = 8000;
  static constexpr std::size_t kSpareBlocks = 2;

  explicit AudioSplitter(const AudioSplitterConfig& config);

  // Appends one piece (16 kHz floats) to the history; advances speech_end.
  void push(std::span<const float> samples);
  // Applies the piece's VAD events (FunASR rules) and appends the frames to queue.
  void split(std::span<const SplitEdge> edges, Mode mode, std::vector<SplitFrame>& online,
             std::vector<SplitFrame>& offline);
  // Copies a frame's samples (clamped to what the history still holds) into out; returns count.
  std::size_t copy(const SplitFrame& frame, std::vector<float>& out) const;
  // Drops history no longer needed (call after the queued frames were copied).
  void trim();
  // ResetIndex(): end of stream.
  void reset();

  int64_t vad_start_ms() const { return vad_start_ms_; }
  int64_t vad_end_ms() const { return vad_end_ms_; }
  int64_t speech_start_ms() const { return speech_start_; }
  int64_t total_samples() const { return total_samples_; }
  std::size_t history_size() const { return history_.size(); }
  std::size_t history_capacity() const { return history_.capacity(); }
  std::size_t state_bytes() const { return history_.bytes_reserved(); }

 private:
  void queue_online_chunk(Mode mode, std::vector<SplitFrame>& online);
  int64_t speech_end_ms() const { return total_samples_ / kSamplesPerMs; }

  AudioSplitterConfig config_;
  BlockFifo<float> history_;
  int64_t offset_ = 0;          // absolute index of history_[0]
  int64_t total_samples_ = 0;   // samples pushed since reset
  int64_t speech_start_ = -1;   // ms; advances by one chunk per queued online frame
  int64_t speech_offline_start_ = -1;
  int64_t vad_start_ms_ = -1;
  int64_t vad_end_ms_ = -1;
};

}  // namespace paraserve
