// Audio input: the WAV/PCM reader and the FFmpeg fallback (src/frontend/audio_file.*).
#include <cmath>

#include "common/error.h"
#include "frontend/audio_file.h"
#include "fuzz_targets.h"

namespace paraserve::fuzz {
namespace {

// What audio_file.h promises for every successful decode.
void check_decoded(const DecodedAudio& a, const char* what) {
  const std::string w(what);
  fuzz_check(!a.samples.empty(), w + ": success with no samples");
  fuzz_check(a.source_rate >= 1000, w + ": source_rate below 1000 Hz");
  fuzz_check(a.channels >= 1, w + ": no channels");
  fuzz_check(!a.format.empty(), w + ": empty format name");
  constexpr float kMax = 32767.0f / 32768.0f;
  for (float x : a.samples)
    fuzz_check(std::isfinite(x) && x >= -1.0f && x <= kMax, w + ": sample outside [-1, 1) or not finite");
}

}  // namespace

int audio_bytes(const std::uint8_t* data, std::size_t size) {
  quiet_ffmpeg_logs();
  try {
    check_decoded(decode_audio_bytes({data, size}, "fuzz"), "decode_audio_bytes");
  } catch (const Error&) {
  }
  return 0;
}

int audio_file(const std::uint8_t* data, std::size_t size) {
  quiet_ffmpeg_logs();
  TempFile f("audio", data, size);
  try {
    check_decoded(decode_audio_file(f.path()), "decode_audio_file");
  } catch (const Error&) {
  }
  // `transcribe x.pcm --audio-fs N`: headerless s16le at a rate the first byte picks.
  static constexpr int kRates[] = {8000, 16000, 22050, 44100, 48000, 999, 768001};
  const int rate = kRates[size ? data[0] % std::size(kRates) : 0];
  try {
    check_decoded(decode_raw_pcm_s16le(f.path(), rate), "decode_raw_pcm_s16le");
  } catch (const Error&) {
  }
  return 0;
}

}  // namespace paraserve::fuzz
