// The one definition of the limits on a streaming session's client-chosen settings. Used by
// the server's message check (server/protocol.cpp), by StreamSession itself
// (pipeline/session.cpp) and quoted in docs/server.md (a test keeps the docs in step).
#pragma once
#include <cstdint>
#include <string>

namespace paraserve::stream_limits {

// chunk_size = [left, chunk, right] in 60 ms LFR frames. chunk > 0, left/right >= 0, and
// each at most 100 frames (6 s): the session sizes its per-chunk buffers from these values.
inline constexpr int kMaxChunkFrames = 100;
// audio_fs: sample rate of the client's PCM, resampled to 16 kHz.
inline constexpr int kMinAudioFs = 1000;
inline constexpr int kMaxAudioFs = 192000;

// Empty when valid, else one line naming the rule that was broken.
inline std::string check_chunk_size(int64_t left, int64_t chunk, int64_t right) {
  if (chunk <= 0 || left < 0 || right < 0 || chunk > kMaxChunkFrames || left > kMaxChunkFrames ||
      right > kMaxChunkFrames)
    return "chunk_size must be [left, chunk, right] with 0 < chunk <= " + std::to_string(kMaxChunkFrames) +
           " and 0 <= left, right <= " + std::to_string(kMaxChunkFrames) + " (60 ms frames), got [" +
           std::to_string(left) + "," + std::to_string(chunk) + "," + std::to_string(right) + "]";
  return {};
}

inline std::string check_audio_fs(int64_t fs) {
  if (fs < kMinAudioFs || fs > kMaxAudioFs)
    return "audio_fs must be a sample rate between " + std::to_string(kMinAudioFs) + " and " +
           std::to_string(kMaxAudioFs) + " Hz, got " + std::to_string(fs);
  return {};
}

}  // namespace paraserve::stream_limits
