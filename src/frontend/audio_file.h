// Decoding of input audio files to 16 kHz mono float samples in [-1, 1).
// WAV (PCM 8/16/24/32-bit integer, 32/64-bit float, WAVE_FORMAT_EXTENSIBLE) is parsed by our
// own strict reader; every other container/codec goes through FFmpeg (libavformat/libavcodec/
// libswresample). Channels are mixed to mono by averaging. Errors are paraserve::Error with a
// one-line message "<path>: <reason>"; a WAV whose data chunk is shorter than declared is
// an error ("truncated"), not a partial decode.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace paraserve {

inline constexpr int kTargetSampleRate = 16000;

struct DecodedAudio {
  std::vector<float> samples;  // mono, kTargetSampleRate
  int source_rate = 0;
  int channels = 0;
  std::string format;  // "wav", "raw-s16le", or FFmpeg's demuxer name (e.g. "flac", "ogg")
  double duration_s() const { return static_cast<double>(samples.size()) / kTargetSampleRate; }
};

DecodedAudio decode_audio_file(const std::string& path);
// Headerless little-endian signed 16-bit mono PCM at `sample_rate`.
DecodedAudio decode_raw_pcm_s16le(const std::string& path, int sample_rate);
// In-memory file contents (e.g. stdin "-"); `name` is used in error messages.
DecodedAudio decode_audio_bytes(std::span<const std::uint8_t> bytes, const std::string& name);

// FFmpeg prints its own diagnostics to stderr (process-wide setting). Our errors already
// carry the reason, so programs may call this once at start-up to silence them.
void quiet_ffmpeg_logs();

}  // namespace paraserve
