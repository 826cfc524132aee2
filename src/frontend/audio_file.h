// Decoding of input audio files to 16 kHz mono float samples in [-1, 1).
// WAV (PCM 8/16/24/32-bit integer, 32/64-bit float, WAVE_FORMAT_EXTENSIBLE) is parsed by our
// own strict reader; every other container/codec goes through FFmpeg (libavformat/libavcodec/
// libswresample). Channels are mixed to mono by averaging. Errors are paraserve::Error with a
// one-line message "<path>: <reason>"; a WAV whose data chunk is shorter than declared is
// an error ("truncated"), not a partial decode.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace paraserve {

inline constexpr int kTargetSampleRate = 16000;

class StreamingResampler;

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

// Incremental decoding of one input to 16 kHz mono floats in bounded blocks, so that memory
// does not depend on the input's length. The samples are exactly those of the whole-input
// decoders above (the same conversion, mono mix, streaming resampler and clamp). A WAV's
// header is validated by open() (a file whose data chunk is shorter than declared is
// rejected there); errors found later (corrupt compressed data) are thrown by read().
// "-" (stdin) is read whole first (FFmpeg needs to probe it), then served in blocks.
class AudioReader {
 public:
  static constexpr std::size_t kBlockFrames = 16384;  // source frames per block

  virtual ~AudioReader();
  static std::unique_ptr<AudioReader> open(const std::string& path);
  static std::unique_ptr<AudioReader> open_raw_s16le(const std::string& path, int sample_rate);

  // Replaces `out` with the next samples (at least one); false at the end (out empty).
  bool read(std::vector<float>& out);
  int source_rate() const { return source_rate_; }
  int channels() const { return channels_; }
  const std::string& format() const { return format_; }
  const std::string& name() const { return name_; }

 protected:
  explicit AudioReader(std::string name);
  // Appends the next mono samples at the source rate to `mono`; false at the end.
  virtual bool pull(std::vector<float>& mono) = 0;
  void set_source(int rate, int channels, std::string format);

 private:
  std::string name_;
  int source_rate_ = 0, channels_ = 0;
  std::string format_;
  std::vector<float> mono_;
  std::unique_ptr<StreamingResampler> resampler_;
  std::uint64_t total_in_ = 0;
  std::uint64_t total_out_ = 0;
  bool done_ = false;
};

// FFmpeg prints its own diagnostics to stderr (process-wide setting). Our errors already
// carry the reason, so programs may call this once at start-up to silence them.
void quiet_ffmpeg_logs();

}  // namespace paraserve
