#include "frontend/audio_file.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>
}

#include <algorithm>
#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <iterator>
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

constexpr float kMaxSample = 32767.0f / 32768.0f;

// Float WAVs (and FFmpeg's float codecs) can carry NaN, infinities and huge values: NaN
// survives std::clamp, and huge values overflow in the resampler's filter (inf - inf = NaN,
// spread over the filter length). Clamp before resampling (NaN -> silence); the resampler
// may overshoot slightly, so callers clamp again after it. Integer PCM is always in range.
void sanitize_samples(std::vector<float>& x) {
  for (float& v : x) v = std::isnan(v) ? 0.0f : std::clamp(v, -1.0f, kMaxSample);
}

// Clamps to the int16-representable range FunASR expects ([-1, 1)) and resamples to 16 kHz.
void finish(DecodedAudio& a, std::vector<float>&& mono, const std::string& name) {
  if (mono.empty()) fail(name, "no audio samples");
  sanitize_samples(mono);
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
  for (float& x : a.samples) x = std::clamp(x, -1.0f, kMaxSample);
}

// ------------------------------------------------------------------------------------------
// WAV: strict RIFF/WAVE reader for PCM and IEEE float. Returns false (caller falls back to
// FFmpeg) only for other codecs carried in WAV (A-law, ADPCM, ...).

enum : std::uint16_t { kPcm = 1, kFloat = 3, kExtensible = 0xFFFE };

struct WavFormat {
  std::uint16_t tag = 0, channels = 0, block_align = 0, bits = 0;
  std::uint32_t rate = 0;
};

// The 'fmt ' chunk body (size >= 16, all present).
WavFormat parse_fmt(const std::uint8_t* f, std::uint32_t size, const std::string& name) {
  WavFormat w;
  w.tag = le16(f);
  w.channels = le16(f + 2);
  w.rate = le32(f + 4);
  w.block_align = le16(f + 12);
  w.bits = le16(f + 14);
  if (w.tag == kExtensible) {
    if (size < 40) fail(name, "invalid WAV: WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk is shorter than 40 bytes");
    w.tag = le16(f + 24);  // first two bytes of the SubFormat GUID = the actual format tag
  }
  return w;
}

// Checks of a PCM/float format at its 'data' chunk.
void check_wav_format(const WavFormat& w, const std::string& name) {
  if (w.channels == 0 || w.channels > 64) fail(name, "invalid WAV: " + std::to_string(w.channels) + " channels");
  if (w.rate < 1000 || w.rate > 768000)
    fail(name, "invalid WAV: sample rate " + std::to_string(w.rate) + " Hz outside [1000, 768000]");
  const bool ok_bits = w.tag == kPcm ? (w.bits == 8 || w.bits == 16 || w.bits == 24 || w.bits == 32)
                                     : (w.bits == 32 || w.bits == 64);
  if (!ok_bits)
    fail(name, "unsupported WAV: " + std::to_string(w.bits) + "-bit " + (w.tag == kPcm ? "PCM" : "float") +
                   " (supported: PCM 8/16/24/32-bit, float 32/64-bit)");
  const std::size_t bytes_per = w.bits / 8u;
  if (w.block_align != w.channels * bytes_per)
    fail(name, "invalid WAV: block align " + std::to_string(w.block_align) + " != channels x bytes per sample (" +
                   std::to_string(w.channels * bytes_per) + ")");
}

// `frames` whole blocks of `d` -> mono floats appended to `mono`.
void convert_frames(const std::uint8_t* d, std::size_t frames, const WavFormat& w, std::vector<float>& mono) {
  const std::size_t channels = w.channels;
  const std::size_t bytes_per = w.bits / 8u;
  const float inv_ch = 1.0f / static_cast<float>(channels);
  const std::size_t first = mono.size();
  mono.resize(first + frames);
  for (std::size_t i = 0; i < frames; ++i) {
    float acc = 0;
    for (std::size_t c = 0; c < channels; ++c) {
      const std::uint8_t* p = d + i * w.block_align + c * bytes_per;
      float v = 0;
      if (w.tag == kFloat) {
        if (w.bits == 32) { std::uint32_t u = le32(p); std::memcpy(&v, &u, 4); }
        else {
          std::uint64_t u = static_cast<std::uint64_t>(le32(p)) | (static_cast<std::uint64_t>(le32(p + 4)) << 32);
          double dv; std::memcpy(&dv, &u, 8); v = static_cast<float>(dv);
        }
      } else if (w.bits == 8) {
        v = (static_cast<float>(p[0]) - 128.0f) / 128.0f;
      } else if (w.bits == 16) {
        v = static_cast<float>(static_cast<std::int16_t>(le16(p))) / 32768.0f;
      } else if (w.bits == 24) {
        const auto s = static_cast<std::int32_t>((static_cast<std::uint32_t>(p[0]) << 8) |
                                                 (static_cast<std::uint32_t>(p[1]) << 16) |
                                                 (static_cast<std::uint32_t>(p[2]) << 24)) >> 8;
        v = static_cast<float>(s) / 8388608.0f;
      } else {
        v = static_cast<float>(static_cast<double>(static_cast<std::int32_t>(le32(p))) / 2147483648.0);
      }
      acc += v;
    }
    mono[first + i] = channels == 1 ? acc : acc * inv_ch;
  }
}

// Writers streaming to a pipe cannot patch the size: ffmpeg leaves 0xFFFFFFFF and sox
// writes 0x7FFFF000. Those mean "until the end of the file".
bool unknown_wav_length(std::uint32_t size) { return size == 0xFFFFFFFFu || size == 0x7FFFF000u; }

// Data length in bytes, given what the file holds after the chunk header.
std::size_t wav_data_length(std::uint32_t size, std::size_t avail, const WavFormat& w, const std::string& name) {
  std::size_t len = size;
  if (unknown_wav_length(size)) len = avail - avail % w.block_align;
  if (len > avail)
    fail(name, "truncated WAV: data chunk declares " + std::to_string(len) + " bytes but only " +
                   std::to_string(avail) + " are present");
  if (len % w.block_align != 0)
    fail(name, "invalid WAV: data chunk size " + std::to_string(len) + " is not a multiple of the block size " +
                   std::to_string(w.block_align));
  return len;
}

bool decode_wav(std::span<const std::uint8_t> b, const std::string& name, DecodedAudio& a) {
  std::size_t pos = 12;
  bool have_fmt = false;
  WavFormat w;
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
      w = parse_fmt(b.data() + body, size, name);
      have_fmt = true;
    } else if (std::memcmp(ck, "data", 4) == 0) {
      if (!have_fmt) fail(name, "invalid WAV: 'data' chunk before 'fmt ' chunk");
      if (w.tag != kPcm && w.tag != kFloat) return false;
      check_wav_format(w, name);
      const std::size_t len = wav_data_length(size, avail, w, name);
      std::vector<float> mono;
      convert_frames(b.data() + body, len / w.block_align, w, mono);
      a.source_rate = static_cast<int>(w.rate);
      a.channels = w.channels;
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

// One FFmpeg demuxer + decoder; pull() yields mono samples at the source rate, a few
// packets at a time.
class FfmpegDecoder {
 public:
  FfmpegDecoder(const std::string& name, const std::string* path, std::span<const std::uint8_t> bytes)
      : name_(name), reader_{bytes} {
    AVFormatContext* raw = avformat_alloc_context();
    if (!raw) throw std::bad_alloc();
    if (!path) {
      constexpr int kBuf = 32768;
      auto* buf = static_cast<unsigned char*>(av_malloc(kBuf));
      if (!buf) { avformat_free_context(raw); throw std::bad_alloc(); }
      avio_.reset(avio_alloc_context(buf, kBuf, 0, &reader_, &MemReader::read, nullptr, &MemReader::seek));
      if (!avio_) { av_free(buf); avformat_free_context(raw); throw std::bad_alloc(); }
      raw->pb = avio_.get();
      raw->flags |= AVFMT_FLAG_CUSTOM_IO;
    }
    int rc = avformat_open_input(&raw, path ? path->c_str() : nullptr, nullptr, nullptr);
    if (rc < 0) {  // avformat_open_input frees the context on failure
      if (rc == AVERROR(ENOENT)) fail(name, "no such file");
      fail(name, "unrecognised or unsupported audio format (ffmpeg: " + av_err(rc) + ")");
    }
    fmt_.reset(raw);
    rc = avformat_find_stream_info(fmt_.get(), nullptr);
    if (rc < 0) fail(name, "cannot read stream information (ffmpeg: " + av_err(rc) + ")");
    const AVCodec* codec = nullptr;
    si_ = av_find_best_stream(fmt_.get(), AVMEDIA_TYPE_AUDIO, -1, -1, &codec, 0);
    if (si_ == AVERROR_STREAM_NOT_FOUND) fail(name, "no audio stream");
    if (si_ < 0 || !codec) fail(name, "no decoder for the audio stream (ffmpeg: " + av_err(si_) + ")");
    AVStream* st = fmt_->streams[si_];
    dec_.reset(avcodec_alloc_context3(codec));
    if (!dec_) throw std::bad_alloc();
    if ((rc = avcodec_parameters_to_context(dec_.get(), st->codecpar)) < 0 ||
        (rc = avcodec_open2(dec_.get(), codec, nullptr)) < 0)
      fail(name, std::string("cannot open the ") + codec->name + " decoder (ffmpeg: " + av_err(rc) + ")");
    pkt_.reset(av_packet_alloc());
    frame_.reset(av_frame_alloc());
    if (!pkt_ || !frame_) throw std::bad_alloc();
    format_ = fmt_->iformat && fmt_->iformat->name ? fmt_->iformat->name : "unknown";
  }

  int rate() const { return rate_; }
  int channels() const { return channels_; }
  const std::string& format() const { return format_; }

  // Appends decoded samples (reads packets until some arrive); false at the end.
  bool pull(std::vector<float>& mono) {
    const std::size_t before = mono.size();
    while (mono.size() == before) {
      if (eof_) return false;
      const int rc = av_read_frame(fmt_.get(), pkt_.get());
      if (rc < 0) {
        if (rc != AVERROR_EOF) fail(name_, "read error (ffmpeg: " + av_err(rc) + ")");
        avcodec_send_packet(dec_.get(), nullptr);
        receive_all(mono);
        eof_ = true;
        if (total_ + (mono.size() - before) == 0 && decode_errors_ > 0)
          fail(name_, "corrupt audio data: nothing could be decoded");
        break;
      }
      if (pkt_->stream_index == si_) {
        const int r = avcodec_send_packet(dec_.get(), pkt_.get());
        // A damaged packet in the middle is skipped (as ffmpeg does); too many is an error.
        if (r < 0 && r != AVERROR(EAGAIN) && ++decode_errors_ > 16)
          fail(name_, "corrupt audio data (ffmpeg: " + av_err(r) + ")");
        receive_all(mono);
      }
      av_packet_unref(pkt_.get());
    }
    total_ += mono.size() - before;
    return mono.size() > before;
  }

 private:
  void take_frame(std::vector<float>& mono) {
    AVFrame* frame = frame_.get();
    const int ch = frame->ch_layout.nb_channels;
    if (ch < 1 || frame->sample_rate < 1000) fail(name_, "decoder produced a frame without channels or sample rate");
    if (rate_ == 0) { rate_ = frame->sample_rate; channels_ = ch; }
    if (frame->sample_rate != rate_ || ch != channels_)
      fail(name_, "sample rate or channel count changes mid-stream (not supported)");
    if (!swr_ || swr_fmt_ != frame->format || swr_rate_ != frame->sample_rate) {
      // Only a sample-format conversion to interleaved float; rate conversion and the
      // mono mix are done by us so that WAV and FFmpeg inputs are treated identically.
      SwrContext* s = nullptr;
      AVChannelLayout out_layout;
      av_channel_layout_default(&out_layout, ch);
      int rc = swr_alloc_set_opts2(&s, &out_layout, AV_SAMPLE_FMT_FLT, frame->sample_rate, &frame->ch_layout,
                                   static_cast<AVSampleFormat>(frame->format), frame->sample_rate, 0, nullptr);
      av_channel_layout_uninit(&out_layout);
      if (rc < 0 || !s || (rc = swr_init(s)) < 0) {
        swr_free(&s);
        fail(name_, "cannot convert the decoded sample format (ffmpeg: " + av_err(rc) + ")");
      }
      swr_.reset(s);
      swr_fmt_ = frame->format;
      swr_rate_ = frame->sample_rate;
    }
    interleaved_.resize(static_cast<std::size_t>(frame->nb_samples) * static_cast<std::size_t>(ch));
    auto* outp = reinterpret_cast<std::uint8_t*>(interleaved_.data());
    const int got = swr_convert(swr_.get(), &outp, frame->nb_samples,
                                const_cast<const std::uint8_t**>(frame->extended_data), frame->nb_samples);
    if (got < 0) fail(name_, "sample conversion failed (ffmpeg: " + av_err(got) + ")");
    const float inv = 1.0f / static_cast<float>(ch);
    for (int i = 0; i < got; ++i) {
      float acc = 0;
      for (int c = 0; c < ch; ++c) acc += interleaved_[static_cast<std::size_t>(i * ch + c)];
      mono.push_back(ch == 1 ? acc : acc * inv);
    }
  }
  void receive_all(std::vector<float>& mono) {
    while (true) {
      const int r = avcodec_receive_frame(dec_.get(), frame_.get());
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
      if (r < 0) fail(name_, "corrupt audio data (ffmpeg: " + av_err(r) + ")");
      take_frame(mono);
      av_frame_unref(frame_.get());
    }
  }

  std::string name_;
  MemReader reader_;
  std::unique_ptr<AVIOContext, AvioDeleter> avio_;
  std::unique_ptr<AVFormatContext, FormatCtxDeleter> fmt_;
  std::unique_ptr<AVCodecContext, CodecCtxDeleter> dec_;
  std::unique_ptr<AVPacket, PacketDeleter> pkt_;
  std::unique_ptr<AVFrame, FrameDeleter> frame_;
  std::unique_ptr<SwrContext, SwrDeleter> swr_;
  int si_ = -1;
  int swr_fmt_ = -1, swr_rate_ = 0, channels_ = 0, rate_ = 0;
  int decode_errors_ = 0;
  bool eof_ = false;
  std::size_t total_ = 0;
  std::vector<float> interleaved_;
  std::string format_;
};

DecodedAudio decode_ffmpeg(const std::string& name, const std::string* path, std::span<const std::uint8_t> bytes) {
  FfmpegDecoder d(name, path, bytes);
  std::vector<float> mono;
  while (d.pull(mono)) {
  }
  DecodedAudio a;
  a.source_rate = d.rate();
  a.channels = d.channels();
  a.format = d.format();
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

// ------------------------------------------------------------------------------------------
// Streaming readers.

AudioReader::AudioReader(std::string name) : name_(std::move(name)) {}
AudioReader::~AudioReader() = default;

void AudioReader::set_source(int rate, int channels, std::string format) {
  source_rate_ = rate;
  channels_ = channels;
  format_ = std::move(format);
}

bool AudioReader::read(std::vector<float>& out) {
  out.clear();
  while (out.empty() && !done_) {
    mono_.clear();
    const bool more = pull(mono_);
    total_in_ += mono_.size();
    sanitize_samples(mono_);
    if (!mono_.empty() && !resampler_ && source_rate_ != kTargetSampleRate)
      resampler_ = std::make_unique<StreamingResampler>(source_rate_, kTargetSampleRate);
    if (resampler_) {
      resampler_->process(mono_, out);
    } else {
      out.swap(mono_);
    }
    if (!more) {
      done_ = true;
      if (total_in_ == 0) fail(name_, "no audio samples");
      if (resampler_) resampler_->flush(out);
      if (total_out_ == 0 && out.empty())
        fail(name_, "no audio samples (" + std::to_string(total_in_) + " at " + std::to_string(source_rate_) +
                        " Hz is shorter than one sample at 16 kHz)");
    }
  }
  total_out_ += out.size();
  for (float& x : out) x = std::clamp(x, -1.0f, kMaxSample);
  return !out.empty();
}

namespace {

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

// PCM/float WAV data (or headerless s16le) read block by block from a file.
class PcmFileReader final : public AudioReader {
 public:
  PcmFileReader(const std::string& name, FilePtr f, const WavFormat& w, std::uint64_t len, bool until_eof,
                const char* format)
      : AudioReader(name), f_(std::move(f)), w_(w), left_(len), until_eof_(until_eof) {
    set_source(static_cast<int>(w.rate), w.channels, format);
  }

 protected:
  bool pull(std::vector<float>& mono) override {
    if (finished_) return false;
    std::size_t want = kBlockFrames * w_.block_align;
    if (!until_eof_) want = static_cast<std::size_t>(std::min<std::uint64_t>(want, left_));
    if (want == 0) {
      finished_ = true;
      return false;
    }
    buf_.resize(want);
    const std::size_t got = std::fread(buf_.data(), 1, want, f_.get());
    if (got < want) {
      if (std::ferror(f_.get())) fail(name(), std::string("read error (") + std::strerror(errno) + ")");
      if (!until_eof_)
        fail(name(), "truncated: the data ends " + std::to_string(left_ - got) + " bytes before its declared size");
      finished_ = true;
    }
    if (!until_eof_) {
      left_ -= got;
      if (left_ == 0) finished_ = true;
    }
    convert_frames(buf_.data(), got / w_.block_align, w_, mono);  // a trailing partial block is dropped
    return !finished_;
  }

 private:
  FilePtr f_;
  WavFormat w_;
  std::uint64_t left_;
  bool until_eof_;
  bool finished_ = false;
  std::vector<std::uint8_t> buf_;
};

class FfmpegReader final : public AudioReader {
 public:
  explicit FfmpegReader(const std::string& path) : AudioReader(path), dec_(path, &path, {}) {}

 protected:
  bool pull(std::vector<float>& mono) override {
    const bool more = dec_.pull(mono);
    if (source_rate() == 0 && dec_.rate() != 0) set_source(dec_.rate(), dec_.channels(), dec_.format());
    return more;
  }

 private:
  FfmpegDecoder dec_;
};

// Already decoded audio (stdin), served in blocks.
class MemoryReader final : public AudioReader {
 public:
  MemoryReader(const std::string& name, DecodedAudio a) : AudioReader(name), a_(std::move(a)) {
    set_source(kTargetSampleRate, a_.channels, a_.format);
  }

 protected:
  bool pull(std::vector<float>& mono) override {
    const std::size_t n = std::min<std::size_t>(kBlockFrames, a_.samples.size() - pos_);
    mono.insert(mono.end(), a_.samples.begin() + static_cast<std::ptrdiff_t>(pos_),
                a_.samples.begin() + static_cast<std::ptrdiff_t>(pos_ + n));
    pos_ += n;
    return pos_ < a_.samples.size();
  }

 private:
  DecodedAudio a_;
  std::size_t pos_ = 0;
};

FilePtr open_or_fail(const std::string& path) {
  FilePtr f(std::fopen(path.c_str(), "rb"));
  if (!f) fail(path, std::string("cannot open file (") + std::strerror(errno) + ")");
  return f;
}

std::uint64_t file_size(std::FILE* f) {
  struct stat st {};
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) return UINT64_MAX;
  return static_cast<std::uint64_t>(st.st_size);
}

}  // namespace

std::unique_ptr<AudioReader> AudioReader::open(const std::string& path) {
  if (path == "-") {
    std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    if (bytes.empty()) fail("stdin", "no data");
    return std::make_unique<MemoryReader>("stdin", decode_audio_bytes(bytes, "stdin"));
  }
  FilePtr f = open_or_fail(path);
  std::uint8_t head[12] = {0};
  const std::size_t got = std::fread(head, 1, sizeof head, f.get());
  if (got == 0) fail(path, "empty file");
  if (!is_riff_wave(std::span<const std::uint8_t>(head, got))) {
    f.reset();
    return std::make_unique<FfmpegReader>(path);
  }
  // RIFF/WAVE: walk the chunk headers up to 'data' (the same checks as decode_wav).
  const std::uint64_t size_of_file = file_size(f.get());
  std::uint64_t pos = 12;
  bool have_fmt = false;
  WavFormat w;
  while (true) {
    std::uint8_t ck[8];
    if (std::fread(ck, 1, 8, f.get()) != 8) {
      if (!have_fmt) fail(path, "invalid WAV: no 'fmt ' chunk");
      fail(path, "invalid WAV: no 'data' chunk");
    }
    const std::uint32_t size = le32(ck + 4);
    const std::uint64_t body = pos + 8;
    const std::uint64_t avail = size_of_file == UINT64_MAX ? UINT64_MAX : size_of_file - body;
    if (std::memcmp(ck, "fmt ", 4) == 0) {
      if (size < 16) fail(path, "invalid WAV: 'fmt ' chunk is " + std::to_string(size) + " bytes, expected >= 16");
      if (avail < size) fail(path, "truncated WAV: 'fmt ' chunk is cut short");
      std::vector<std::uint8_t> fmt(size);
      if (std::fread(fmt.data(), 1, size, f.get()) != size) fail(path, "truncated WAV: 'fmt ' chunk is cut short");
      w = parse_fmt(fmt.data(), size, path);
      have_fmt = true;
      if (size & 1u) std::fseek(f.get(), 1, SEEK_CUR);
      pos = body + size + (size & 1u);
      continue;
    }
    if (std::memcmp(ck, "data", 4) == 0) {
      if (!have_fmt) fail(path, "invalid WAV: 'data' chunk before 'fmt ' chunk");
      if (w.tag != kPcm && w.tag != kFloat) {  // other codecs in WAV: FFmpeg
        f.reset();
        return std::make_unique<FfmpegReader>(path);
      }
      check_wav_format(w, path);
      if (avail == UINT64_MAX) {  // not a regular file: read up to the declared size or the end
        const bool until_eof = unknown_wav_length(size);
        if (!until_eof && size % w.block_align != 0) wav_data_length(size, size, w, path);  // throws
        return std::make_unique<PcmFileReader>(path, std::move(f), w, size, until_eof, "wav");
      }
      const std::size_t len = wav_data_length(size, static_cast<std::size_t>(avail), w, path);
      return std::make_unique<PcmFileReader>(path, std::move(f), w, len, false, "wav");
    }
    const std::uint64_t skip = static_cast<std::uint64_t>(size) + (size & 1u);
    if (skip > avail || std::fseek(f.get(), static_cast<long>(skip), SEEK_CUR) != 0) {
      if (!have_fmt) fail(path, "truncated WAV: chunk '" + std::string(reinterpret_cast<const char*>(ck), 4) + "' is cut short");
      fail(path, "truncated WAV: no 'data' chunk before the end of the file");
    }
    pos = body + skip;
  }
}

std::unique_ptr<AudioReader> AudioReader::open_raw_s16le(const std::string& path, int sample_rate) {
  if (sample_rate < 1000 || sample_rate > 768000)
    fail(path, "raw PCM sample rate " + std::to_string(sample_rate) + " Hz outside [1000, 768000]");
  FilePtr f = open_or_fail(path);
  const std::uint64_t n = file_size(f.get());
  if (n == 0) fail(path, "empty file");
  if (n != UINT64_MAX && n % 2 != 0)
    fail(path, "truncated raw s16le PCM: odd number of bytes (" + std::to_string(n) + ")");
  WavFormat w;
  w.tag = kPcm;
  w.channels = 1;
  w.bits = 16;
  w.block_align = 2;
  w.rate = static_cast<std::uint32_t>(sample_rate);
  return std::make_unique<PcmFileReader>(path, std::move(f), w, n == UINT64_MAX ? 0 : n, n == UINT64_MAX, "raw-s16le");
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
