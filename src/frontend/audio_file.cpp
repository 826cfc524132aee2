#include "frontend/audio_file.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>
}

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>

#include "common/error.h"
#include "frontend/resampler.h"

namespace paraserve {
namespace {

[[noreturn]] void fail(const std::string& name, const std::string& reason) { throw Error(name + ": " + reason); }

std::vector<std::uint8_t> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) fail(path, std::string("cannot open file (") + std::strerror(errno) + ")");
  const auto size = f.tellg();
  if (size < 0) fail(path, "cannot determine file size");
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  f.seekg(0);
  if (!bytes.empty() && !f.read(reinterpret_cast<char*>(bytes.data()), size)) fail(path, "read error");
  return bytes;
}

std::uint16_t le16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | (p[1] << 8)); }
std::uint32_t le32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

bool is_riff_wave(std::span<const std::uint8_t> b) {
  return b.size() >= 12 && std::memcmp(b.data(), "RIFF", 4) == 0 && std::memcmp(b.data() + 8, "WAVE", 4) == 0;
}

// Clamps to the int16-representable range FunASR expects ([-1, 1)) and resamples to 16 kHz.
void finish(DecodedAudio& a, std::vector<float>&& mono, const std::string& name) {
  if (mono.empty()) fail(name, "no audio samples");
  constexpr float kMax = 32767.0f / 32768.0f;
  // Float WAVs (and FFmpeg's float codecs) can carry NaN, infinities and huge values: NaN
  // survives std::clamp, and huge values overflow in the resampler's filter (inf - inf =
  // NaN, spread over the filter length). Clamp first (NaN -> silence); the resampler may
  // overshoot slightly, so clamp again after it. Integer PCM is always in range already.
  for (float& x : mono) x = std::isnan(x) ? 0.0f : std::clamp(x, -1.0f, kMax);
  if (a.source_rate != kTargetSampleRate) {
    StreamingResampler rs(a.source_rate, kTargetSampleRate);
    a.samples.reserve(static_cast<std::size_t>(static_cast<double>(mono.size()) * kTargetSampleRate / a.source_rate) + 64);
    rs.process(mono, a.samples);
    rs.flush(a.samples);
    // A few samples at a high rate can resample to nothing; success always has samples.
    if (a.samples.empty())
      fail(name, "no audio samples (" + std::to_string(mono.size()) + " at " + std::to_string(a.source_rate) +
                     " Hz is shorter than one sample at 16 kHz)");
  } else {
    a.samples = std::move(mono);
  }
  for (float& x : a.samples) x = std::clamp(x, -1.0f, kMax);
}

// ------------------------------------------------------------------------------------------
// WAV: strict RIFF/WAVE reader for PCM and IEEE float. Returns false (caller falls back to
// FFmpeg) only for other codecs carried in WAV (A-law, ADPCM, ...).

enum : std::uint16_t { kPcm = 1, kFloat = 3, kExtensible = 0xFFFE };

bool decode_wav(std::span<const std::uint8_t> b, const std::string& name, DecodedAudio& a) {
  std::size_t pos = 12;
  bool have_fmt = false;
  std::uint16_t tag = 0, channels = 0, block_align = 0, bits = 0;
  std::uint32_t rate = 0;
  while (true) {
    if (pos + 8 > b.size()) {
      if (!have_fmt) fail(name, "invalid WAV: no 'fmt ' chunk");
      fail(name, "invalid WAV: no 'data' chunk");
    }
    const std::uint8_t* ck = b.data() + pos;
    const std::uint32_t size = le32(ck + 4);
    const std::size_t body = pos + 8;
    const std::size_t avail = b.size() - body;
    if (std::memcmp(ck, "fmt ", 4) == 0) {
      if (size < 16) fail(name, "invalid WAV: 'fmt ' chunk is " + std::to_string(size) + " bytes, expected >= 16");
      if (avail < size) fail(name, "truncated WAV: 'fmt ' chunk is cut short");
      const std::uint8_t* f = b.data() + body;
      tag = le16(f);
      channels = le16(f + 2);
      rate = le32(f + 4);
      block_align = le16(f + 12);
      bits = le16(f + 14);
      if (tag == kExtensible) {
        if (size < 40) fail(name, "invalid WAV: WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk is shorter than 40 bytes");
        tag = le16(f + 24);  // first two bytes of the SubFormat GUID = the actual format tag
      }
      have_fmt = true;
    } else if (std::memcmp(ck, "data", 4) == 0) {
      if (!have_fmt) fail(name, "invalid WAV: 'data' chunk before 'fmt ' chunk");
      if (tag != kPcm && tag != kFloat) return false;
      if (channels == 0 || channels > 64) fail(name, "invalid WAV: " + std::to_string(channels) + " channels");
      if (rate < 1000 || rate > 768000)
        fail(name, "invalid WAV: sample rate " + std::to_string(rate) + " Hz outside [1000, 768000]");
      const bool ok_bits = tag == kPcm ? (bits == 8 || bits == 16 || bits == 24 || bits == 32) : (bits == 32 || bits == 64);
      if (!ok_bits)
        fail(name, "unsupported WAV: " + std::to_string(bits) + "-bit " + (tag == kPcm ? "PCM" : "float") +
                       " (supported: PCM 8/16/24/32-bit, float 32/64-bit)");
      const std::size_t bytes_per = bits / 8u;
      if (block_align != channels * bytes_per)
        fail(name, "invalid WAV: block align " + std::to_string(block_align) + " != channels x bytes per sample (" +
                       std::to_string(channels * bytes_per) + ")");
      std::size_t len = size;
      // Writers streaming to a pipe cannot patch the size: ffmpeg leaves 0xFFFFFFFF and sox
      // writes 0x7FFFF000. Those mean "until the end of the file".
      const bool unknown_len = size == 0xFFFFFFFFu || size == 0x7FFFF000u;
      if (unknown_len) len = avail - avail % block_align;
      if (len > avail)
        fail(name, "truncated WAV: data chunk declares " + std::to_string(len) + " bytes but only " +
                       std::to_string(avail) + " are present");
      if (len % block_align != 0)
        fail(name, "invalid WAV: data chunk size " + std::to_string(len) + " is not a multiple of the block size " +
                       std::to_string(block_align));
      const std::size_t frames = len / block_align;
      std::vector<float> mono(frames);
      const std::uint8_t* d = b.data() + body;
      const float inv_ch = 1.0f / static_cast<float>(channels);
      for (std::size_t i = 0; i < frames; ++i) {
        float acc = 0;
        for (std::size_t c = 0; c < channels; ++c) {
          const std::uint8_t* p = d + i * block_align + c * bytes_per;
          float v = 0;
          if (tag == kFloat) {
            if (bits == 32) { std::uint32_t u = le32(p); std::memcpy(&v, &u, 4); }
            else {
              std::uint64_t u = static_cast<std::uint64_t>(le32(p)) | (static_cast<std::uint64_t>(le32(p + 4)) << 32);
              double dv; std::memcpy(&dv, &u, 8); v = static_cast<float>(dv);
            }
          } else if (bits == 8) {
            v = (static_cast<float>(p[0]) - 128.0f) / 128.0f;
          } else if (bits == 16) {
            v = static_cast<float>(static_cast<std::int16_t>(le16(p))) / 32768.0f;
          } else if (bits == 24) {
            const auto s = static_cast<std::int32_t>((static_cast<std::uint32_t>(p[0]) << 8) |
                                                     (static_cast<std::uint32_t>(p[1]) << 16) |
                                                     (static_cast<std::uint32_t>(p[2]) << 24)) >> 8;
            v = static_cast<float>(s) / 8388608.0f;
          } else {
            v = static_cast<float>(static_cast<double>(static_cast<std::int32_t>(le32(p))) / 2147483648.0);
          }
          acc += v;
        }
        mono[i] = channels == 1 ? acc : acc * inv_ch;
      }
      a.source_rate = static_cast<int>(rate);
      a.channels = channels;
      a.format = "wav";
      finish(a, std::move(mono), name);
      return true;
    }
    // Skip other chunks (LIST, fact, ...), padded to an even size.
    const std::size_t skip = static_cast<std::size_t>(size) + (size & 1u);
    if (skip > avail) {
      if (!have_fmt) fail(name, "truncated WAV: chunk '" + std::string(reinterpret_cast<const char*>(ck), 4) + "' is cut short");
      fail(name, "truncated WAV: no 'data' chunk before the end of the file");
    }
    pos = body + skip;
  }
}

// ------------------------------------------------------------------------------------------
// FFmpeg path.

std::string av_err(int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(code, buf, sizeof(buf));
  return buf;
}

struct FormatCtxDeleter { void operator()(AVFormatContext* p) const { avformat_close_input(&p); } };
struct CodecCtxDeleter { void operator()(AVCodecContext* p) const { avcodec_free_context(&p); } };
struct PacketDeleter { void operator()(AVPacket* p) const { av_packet_free(&p); } };
struct FrameDeleter { void operator()(AVFrame* p) const { av_frame_free(&p); } };
struct SwrDeleter { void operator()(SwrContext* p) const { swr_free(&p); } };
struct AvioDeleter {
  void operator()(AVIOContext* p) const {
    if (p) av_freep(&p->buffer);
    avio_context_free(&p);
  }
};

struct MemReader {
  std::span<const std::uint8_t> data;
  std::size_t pos = 0;
  static int read(void* opaque, std::uint8_t* buf, int size) {
    auto* m = static_cast<MemReader*>(opaque);
    const std::size_t n = std::min(static_cast<std::size_t>(size), m->data.size() - m->pos);
    if (n == 0) return AVERROR_EOF;
    std::memcpy(buf, m->data.data() + m->pos, n);
    m->pos += n;
    return static_cast<int>(n);
  }
  static std::int64_t seek(void* opaque, std::int64_t offset, int whence) {
    auto* m = static_cast<MemReader*>(opaque);
    const auto size = static_cast<std::int64_t>(m->data.size());
    if (whence & AVSEEK_SIZE) return size;
    std::int64_t target = 0;
    switch (whence & ~AVSEEK_FORCE) {
      case SEEK_SET: target = offset; break;
      case SEEK_CUR: target = static_cast<std::int64_t>(m->pos) + offset; break;
      case SEEK_END: target = size + offset; break;
      default: return -1;
    }
    if (target < 0 || target > size) return -1;
    m->pos = static_cast<std::size_t>(target);
    return target;
  }
};

DecodedAudio decode_ffmpeg(const std::string& name, const std::string* path, std::span<const std::uint8_t> bytes) {
  AVFormatContext* raw = avformat_alloc_context();
  if (!raw) throw std::bad_alloc();
  std::unique_ptr<AVIOContext, AvioDeleter> avio;
  MemReader reader{bytes};
  if (!path) {
    constexpr int kBuf = 32768;
    auto* buf = static_cast<unsigned char*>(av_malloc(kBuf));
    if (!buf) { avformat_free_context(raw); throw std::bad_alloc(); }
    avio.reset(avio_alloc_context(buf, kBuf, 0, &reader, &MemReader::read, nullptr, &MemReader::seek));
    if (!avio) { av_free(buf); avformat_free_context(raw); throw std::bad_alloc(); }
    raw->pb = avio.get();
    raw->flags |= AVFMT_FLAG_CUSTOM_IO;
  }
  int rc = avformat_open_input(&raw, path ? path->c_str() : nullptr, nullptr, nullptr);
  if (rc < 0) {  // avformat_open_input frees the context on failure
    if (rc == AVERROR(ENOENT)) fail(name, "no such file");
    fail(name, "unrecognised or unsupported audio format (ffmpeg: " + av_err(rc) + ")");
  }
  std::unique_ptr<AVFormatContext, FormatCtxDeleter> fmt(raw);
  rc = avformat_find_stream_info(fmt.get(), nullptr);
  if (rc < 0) fail(name, "cannot read stream information (ffmpeg: " + av_err(rc) + ")");
  const AVCodec* codec = nullptr;
  const int si = av_find_best_stream(fmt.get(), AVMEDIA_TYPE_AUDIO, -1, -1, &codec, 0);
  if (si == AVERROR_STREAM_NOT_FOUND) fail(name, "no audio stream");
  if (si < 0 || !codec) fail(name, "no decoder for the audio stream (ffmpeg: " + av_err(si) + ")");
  AVStream* st = fmt->streams[si];
  std::unique_ptr<AVCodecContext, CodecCtxDeleter> dec(avcodec_alloc_context3(codec));
  if (!dec) throw std::bad_alloc();
  if ((rc = avcodec_parameters_to_context(dec.get(), st->codecpar)) < 0 ||
      (rc = avcodec_open2(dec.get(), codec, nullptr)) < 0)
    fail(name, std::string("cannot open the ") + codec->name + " decoder (ffmpeg: " + av_err(rc) + ")");

  std::unique_ptr<AVPacket, PacketDeleter> pkt(av_packet_alloc());
  std::unique_ptr<AVFrame, FrameDeleter> frame(av_frame_alloc());
  if (!pkt || !frame) throw std::bad_alloc();
  std::unique_ptr<SwrContext, SwrDeleter> swr;
  int swr_fmt = -1, swr_rate = 0, channels = 0, rate = 0;
  std::vector<float> interleaved, mono;
  int decode_errors = 0;

  auto take_frame = [&]() {
    const int ch = frame->ch_layout.nb_channels;
    if (ch < 1 || frame->sample_rate < 1000) fail(name, "decoder produced a frame without channels or sample rate");
    if (rate == 0) { rate = frame->sample_rate; channels = ch; }
    if (frame->sample_rate != rate || ch != channels)
      fail(name, "sample rate or channel count changes mid-stream (not supported)");
    if (!swr || swr_fmt != frame->format || swr_rate != frame->sample_rate) {
      // Only a sample-format conversion to interleaved float; rate conversion and the
      // mono mix are done by us so that WAV and FFmpeg inputs are treated identically.
      SwrContext* s = nullptr;
      AVChannelLayout out_layout;
      av_channel_layout_default(&out_layout, ch);
      rc = swr_alloc_set_opts2(&s, &out_layout, AV_SAMPLE_FMT_FLT, frame->sample_rate, &frame->ch_layout,
                               static_cast<AVSampleFormat>(frame->format), frame->sample_rate, 0, nullptr);
      av_channel_layout_uninit(&out_layout);
      if (rc < 0 || !s || (rc = swr_init(s)) < 0) {
        swr_free(&s);
        fail(name, "cannot convert the decoded sample format (ffmpeg: " + av_err(rc) + ")");
      }
      swr.reset(s);
      swr_fmt = frame->format;
      swr_rate = frame->sample_rate;
    }
    interleaved.resize(static_cast<std::size_t>(frame->nb_samples) * static_cast<std::size_t>(ch));
    auto* outp = reinterpret_cast<std::uint8_t*>(interleaved.data());
    const int got = swr_convert(swr.get(), &outp, frame->nb_samples,
                                const_cast<const std::uint8_t**>(frame->extended_data), frame->nb_samples);
    if (got < 0) fail(name, "sample conversion failed (ffmpeg: " + av_err(got) + ")");
    const float inv = 1.0f / static_cast<float>(ch);
    for (int i = 0; i < got; ++i) {
      float acc = 0;
      for (int c = 0; c < ch; ++c) acc += interleaved[static_cast<std::size_t>(i * ch + c)];
      mono.push_back(ch == 1 ? acc : acc * inv);
    }
  };
  auto receive_all = [&]() {
    while (true) {
      const int r = avcodec_receive_frame(dec.get(), frame.get());
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
      if (r < 0) fail(name, "corrupt audio data (ffmpeg: " + av_err(r) + ")");
      take_frame();
      av_frame_unref(frame.get());
    }
  };
  while ((rc = av_read_frame(fmt.get(), pkt.get())) >= 0) {
    if (pkt->stream_index == si) {
      const int r = avcodec_send_packet(dec.get(), pkt.get());
      // A damaged packet in the middle is skipped (as ffmpeg does); too many is an error.
      if (r < 0 && r != AVERROR(EAGAIN) && ++decode_errors > 16)
        fail(name, "corrupt audio data (ffmpeg: " + av_err(r) + ")");
      receive_all();
    }
    av_packet_unref(pkt.get());
  }
  if (rc != AVERROR_EOF) fail(name, "read error (ffmpeg: " + av_err(rc) + ")");
  avcodec_send_packet(dec.get(), nullptr);
  receive_all();
  if (mono.empty() && decode_errors > 0) fail(name, "corrupt audio data: nothing could be decoded");

  DecodedAudio a;
  a.source_rate = rate;
  a.channels = channels;
  a.format = fmt->iformat && fmt->iformat->name ? fmt->iformat->name : "unknown";
  finish(a, std::move(mono), name);
  return a;
}

DecodedAudio decode_any(std::span<const std::uint8_t> bytes, const std::string& name, const std::string* path) {
  if (bytes.empty()) fail(name, "empty file");
  if (is_riff_wave(bytes)) {
    DecodedAudio a;
    if (decode_wav(bytes, name, a)) return a;
  }
  return decode_ffmpeg(name, path, bytes);
}

}  // namespace

DecodedAudio decode_audio_file(const std::string& path) {
  // Peek at the header: WAV is read whole by our parser; other formats are streamed by FFmpeg.
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(path, std::string("cannot open file (") + std::strerror(errno) + ")");
  std::uint8_t head[12] = {0};
  f.read(reinterpret_cast<char*>(head), sizeof(head));
  const auto got = static_cast<std::size_t>(f.gcount());
  f.close();
  if (got == 0) fail(path, "empty file");
  if (is_riff_wave(std::span<const std::uint8_t>(head, got))) {
    const auto bytes = read_file(path);
    return decode_any(bytes, path, &path);
  }
  return decode_ffmpeg(path, &path, {});
}

void quiet_ffmpeg_logs() { av_log_set_level(AV_LOG_FATAL); }

DecodedAudio decode_audio_bytes(std::span<const std::uint8_t> bytes, const std::string& name) {
  return decode_any(bytes, name, nullptr);
}

DecodedAudio decode_raw_pcm_s16le(const std::string& path, int sample_rate) {
  if (sample_rate < 1000 || sample_rate > 768000)
    fail(path, "raw PCM sample rate " + std::to_string(sample_rate) + " Hz outside [1000, 768000]");
  const auto bytes = read_file(path);
  if (bytes.empty()) fail(path, "empty file");
  if (bytes.size() % 2 != 0) fail(path, "truncated raw s16le PCM: odd number of bytes (" + std::to_string(bytes.size()) + ")");
  std::vector<float> mono(bytes.size() / 2);
  for (std::size_t i = 0; i < mono.size(); ++i)
    mono[i] = static_cast<float>(static_cast<std::int16_t>(le16(bytes.data() + 2 * i))) / 32768.0f;
  DecodedAudio a;
  a.source_rate = sample_rate;
  a.channels = 1;
  a.format = "raw-s16le";
  finish(a, std::move(mono), path);
  return a;
}

}  // namespace paraserve
