#include "pipeline/audio_splitter.h"

#include <algorithm>
#include <string>

#include "common/error.h"

namespace paraserve {

void AudioSplitterConfig::validate() const {
  if (chunk_len <= 0) throw Error("audio splitter: chunk_len must be > 0, got " + std::to_string(chunk_len));
  if (max_single_segment_ms <= 0 || max_single_segment_ms > 3600000)
    throw Error("audio splitter: max_single_segment_time must be in (0, 3600000] ms, got " +
                std::to_string(max_single_segment_ms));
}

namespace {
// Inside speech the history holds 2 s before the segment start plus the segment, which the
// VAD closes at max_single_segment_time; 3 s of slack covers VAD latency and one piece.
std::size_t history_bound(const AudioSplitterConfig& c) {
  c.validate();
  return static_cast<std::size_t>((c.max_single_segment_ms + 5000) * AudioSplitter::kSamplesPerMs) +
         static_cast<std::size_t>(c.chunk_len);
}
}  // namespace

AudioSplitter::AudioSplitter(const AudioSplitterConfig& config)
    : config_(config), history_(kBlockSamples, history_bound(config), kSpareBlocks) {}

void AudioSplitter::push(std::span<const float> samples) {
  // Never fail a stream on history overflow: drop the oldest audio (a frame reaching into it is
  // clamped in copy()). This cannot happen while the VAD enforces its maximum segment length.
  if (samples.size() > history_.capacity()) samples = samples.last(history_.capacity());
  if (samples.size() > history_.free_space()) {
    std::size_t drop = samples.size() - history_.free_space();
    history_.pop(drop);
    offset_ += static_cast<int64_t>(drop);
  }
  history_.push(samples);
  total_samples_ += static_cast<int64_t>(samples.size());
}

void AudioSplitter::queue_online_chunk(Mode mode, std::vector<SplitFrame>& online) {
  if (mode == Mode::kOffline) return;
  const int64_t start = speech_start_ * kSamplesPerMs;
  const int64_t buff_len = speech_end_ms() * kSamplesPerMs - start;
  if (buff_len >= config_.chunk_len) {
    online.push_back({start, config_.chunk_len, speech_start_, false});
    speech_start_ += config_.chunk_len / kSamplesPerMs;
  }
}

void AudioSplitter::split(std::span<const SplitEdge> edges, Mode mode, std::vector<SplitFrame>& online,
                          std::vector<SplitFrame>& offline) {
  if (edges.empty()) {
    if (speech_start_ != -1) queue_online_chunk(mode, online);
    return;
  }
  for (const SplitEdge& e : edges) {
    const int64_t s_ms = e.start_ms, e_ms = e.end_ms;
    if (s_ms != -1 && e_ms != -1) {
      // Whole segment in one call: one final online frame (not chunked) and one offline frame.
      const int64_t start = s_ms * kSamplesPerMs, len = (e_ms - s_ms) * kSamplesPerMs;
      if (mode != Mode::kOffline) online.push_back({start, len, s_ms, true});
      if (mode != Mode::kOnline) offline.push_back({start, len, s_ms, true});
      vad_start_ms_ = s_ms;
      vad_end_ms_ = e_ms;
      speech_start_ = speech_offline_start_ = -1;
    } else if (s_ms != -1) {
      speech_start_ = speech_offline_start_ = s_ms;
      queue_online_chunk(mode, online);
      vad_start_ms_ = s_ms;
    } else if (e_ms != -1) {
      // FunASR logs and forces the start to 0 when an end arrives without a start; it leaves the
      // offline start at -1 (reading before the buffer). We use 0 for both.
      if (speech_start_ == -1 || speech_offline_start_ == -1) {
        if (speech_start_ == -1) speech_start_ = 0;
        if (speech_offline_start_ == -1) speech_offline_start_ = 0;
      }
      const int64_t start = speech_start_ * kSamplesPerMs;
      const int64_t offline_start = speech_offline_start_ * kSamplesPerMs;
      const int64_t end = e_ms * kSamplesPerMs;
      if (mode != Mode::kOnline)
        offline.push_back({offline_start, end - offline_start, speech_offline_start_, true});
      if (mode != Mode::kOffline) {
        const int64_t buff_len = end - start;
        int64_t step = config_.chunk_len;
        if (buff_len > 0) {
          // FunASR's loop: a piece becomes final (and takes the rest) once it reaches within one
          // sample of the end, so the last frame may be chunk_len + 1 samples long.
          for (int64_t off = 0; off < buff_len; off += std::min(step, buff_len - off)) {
            bool is_final = false;
            if (off + step >= buff_len - 1) {
              step = buff_len - off;
              is_final = true;
            }
            online.push_back({start + off, step, (start + off) / kSamplesPerMs, is_final});
          }
        } else {
          online.push_back({start, 0, speech_start_, true});
        }
      }
      vad_end_ms_ = e_ms;
      speech_start_ = speech_offline_start_ = -1;
    }
  }
}

std::size_t AudioSplitter::copy(const SplitFrame& frame, std::vector<float>& out) const {
  out.clear();
  int64_t first = std::max(frame.first_sample, offset_);
  int64_t last = std::min(frame.first_sample + frame.num_samples, offset_ + static_cast<int64_t>(history_.size()));
  if (last <= first) return 0;
  out.resize(static_cast<std::size_t>(last - first));
  history_.copy_out(static_cast<std::size_t>(first - offset_), out.size(), out.data());
  return out.size();
}

void AudioSplitter::trim() {
  const int64_t size = static_cast<int64_t>(history_.size());
  int64_t erase = 0;
  if (speech_offline_start_ == -1) {
    erase = size - kKeepBeforeSpeech;
  } else {
    erase = speech_offline_start_ * kSamplesPerMs - offset_ - kKeepBeforeSpeech;
  }
  erase = std::min(erase, size);
  if (erase > 0) {
    history_.pop(static_cast<std::size_t>(erase));
    offset_ += erase;
  }
}

void AudioSplitter::reset() {
  history_.clear();  // keeps at most kSpareBlocks blocks for the next utterance
  offset_ = 0;
  total_samples_ = 0;
  speech_start_ = speech_offline_start_ = -1;
  vad_start_ms_ = vad_end_ms_ = -1;
}

}  // namespace paraserve
