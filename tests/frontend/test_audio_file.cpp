#include "frontend/audio_file.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "common/error.h"

namespace paraserve {
namespace {

namespace fs = std::filesystem;

class AudioFile : public ::testing::Test {
 protected:
  void SetUp() override {
    quiet_ffmpeg_logs();  // the corrupt-input cases would otherwise print FFmpeg diagnostics
    dir_ = fs::temp_directory_path() / ("paraserve_audio_test_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  static bool have_sox() { return std::system("sox --version > /dev/null 2>&1") == 0; }
  void sox(const std::string& args) {
    const std::string cmd = "sox " + args + " 2>/dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  fs::path dir_;
};

void put16(std::string& s, unsigned v) { s.push_back(static_cast<char>(v & 0xff)); s.push_back(static_cast<char>((v >> 8) & 0xff)); }
void put32(std::string& s, std::uint32_t v) { put16(s, v & 0xffff); put16(s, v >> 16); }

// Minimal PCM16 WAV writer for tests; `data_size_override` fakes a wrong header.
std::string wav16(const std::vector<std::int16_t>& interleaved, int rate, int channels,
                  std::int64_t data_size_override = -1) {
  std::string s = "RIFF";
  const auto data_bytes = static_cast<std::uint32_t>(interleaved.size() * 2);
  put32(s, 36 + data_bytes);
  s += "WAVEfmt ";
  put32(s, 16);
  put16(s, 1);
  put16(s, static_cast<unsigned>(channels));
  put32(s, static_cast<std::uint32_t>(rate));
  put32(s, static_cast<std::uint32_t>(rate * channels * 2));
  put16(s, static_cast<unsigned>(channels * 2));
  put16(s, 16);
  s += "LIST";  // an unrelated chunk to skip (odd size -> padded)
  put32(s, 3);
  s += "abc";
  s.push_back('\0');
  s += "data";
  put32(s, data_size_override >= 0 ? static_cast<std::uint32_t>(data_size_override) : data_bytes);
  for (std::int16_t v : interleaved) put16(s, static_cast<std::uint16_t>(v));
  return s;
}

void write(const std::string& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::vector<std::int16_t> tone16(int n, double hz, int rate, double amp = 12000) {
  std::vector<std::int16_t> x(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) x[static_cast<std::size_t>(i)] = static_cast<std::int16_t>(std::lround(amp * std::sin(2 * M_PI * hz * i / rate)));
  return x;
}

void expect_error(const std::function<void()>& f, const std::string& prefix, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "expected an error containing '" << needle << "'";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind(prefix + ": ", 0), 0u) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << "want '" << needle << "' in: " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

TEST_F(AudioFile, Wav16MonoExact) {
  const auto x = tone16(16000, 440, 16000);
  write(path("a.wav"), wav16(x, 16000, 1));
  const auto a = decode_audio_file(path("a.wav"));
  EXPECT_EQ(a.format, "wav");
  EXPECT_EQ(a.source_rate, 16000);
  EXPECT_EQ(a.channels, 1);
  ASSERT_EQ(a.samples.size(), x.size());
  for (std::size_t i = 0; i < x.size(); ++i) ASSERT_EQ(a.samples[i] * 32768.0f, static_cast<float>(x[i])) << i;
  EXPECT_DOUBLE_EQ(a.duration_s(), 1.0);
  // Same bytes from memory (stdin path).
  std::ifstream f(path("a.wav"), std::ios::binary);
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(f)), {});
  EXPECT_EQ(decode_audio_bytes(bytes, "-").samples, a.samples);
}

TEST_F(AudioFile, StereoIsAveraged) {
  std::vector<std::int16_t> st;
  for (int i = 0; i < 1600; ++i) { st.push_back(static_cast<std::int16_t>(1000 + i)); st.push_back(static_cast<std::int16_t>(-3000)); }
  write(path("s.wav"), wav16(st, 16000, 2));
  const auto a = decode_audio_file(path("s.wav"));
  EXPECT_EQ(a.channels, 2);
  ASSERT_EQ(a.samples.size(), 1600u);
  for (int i = 0; i < 1600; ++i) ASSERT_FLOAT_EQ(a.samples[static_cast<std::size_t>(i)] * 32768.0f, (1000.0f + i - 3000.0f) / 2) << i;
}

TEST_F(AudioFile, ResamplesTo16k) {
  const auto x = tone16(44100, 1000, 44100);
  write(path("r.wav"), wav16(x, 44100, 1));
  const auto a = decode_audio_file(path("r.wav"));
  EXPECT_EQ(a.source_rate, 44100);
  EXPECT_NEAR(static_cast<double>(a.samples.size()), 16000.0, 2.0);
  // Zero crossings of a 1 kHz tone over the middle half second: ~1000.
  int zc = 0;
  for (std::size_t i = 4000; i < 12000; ++i) zc += (a.samples[i - 1] < 0) != (a.samples[i] < 0);
  EXPECT_NEAR(zc, 1000, 2);
}

TEST_F(AudioFile, SoxWavVariants) {
  if (!have_sox()) GTEST_SKIP() << "sox not installed";
  const auto x = tone16(8000, 300, 16000);
  write(path("base.wav"), wav16(x, 16000, 1));
  struct V { const char* args; const char* name; float tol; };
  const V variants[] = {{"-b 8 -e unsigned-integer", "u8.wav", 1.0f / 64},
                        {"-b 24", "s24.wav", 1e-6f},
                        {"-b 32", "s32.wav", 1e-6f},
                        {"-b 32 -e floating-point", "f32.wav", 1e-6f},
                        {"-b 64 -e floating-point", "f64.wav", 1e-6f},
                        {"-c 3", "ch3.wav", 1e-4f}};  // 3 channels: WAVE_FORMAT_EXTENSIBLE, all equal
  for (const auto& v : variants) {
    sox(path("base.wav") + " " + v.args + " " + path(v.name));
    const auto a = decode_audio_file(path(v.name));
    ASSERT_EQ(a.samples.size(), x.size()) << v.name;
    float maxd = 0;
    for (std::size_t i = 0; i < x.size(); ++i) maxd = std::max(maxd, std::abs(a.samples[i] - x[i] / 32768.0f));
    EXPECT_LE(maxd, v.tol) << v.name;
    EXPECT_EQ(a.format, "wav") << v.name;
  }
}

TEST_F(AudioFile, FlacAndOggViaFfmpeg) {
  if (!have_sox()) GTEST_SKIP() << "sox not installed";
  const auto x = tone16(16000, 500, 16000);
  write(path("base.wav"), wav16(x, 16000, 1));
  sox(path("base.wav") + " " + path("a.flac"));
  const auto f = decode_audio_file(path("a.flac"));
  EXPECT_EQ(f.format, "flac");
  ASSERT_EQ(f.samples.size(), x.size());
  for (std::size_t i = 0; i < x.size(); ++i) ASSERT_EQ(f.samples[i] * 32768.0f, static_cast<float>(x[i])) << i;  // lossless

  sox(path("base.wav") + " -r 48000 -c 2 " + path("a.ogg"));
  const auto o = decode_audio_file(path("a.ogg"));
  EXPECT_EQ(o.format, "ogg");
  EXPECT_EQ(o.source_rate, 48000);
  EXPECT_EQ(o.channels, 2);
  EXPECT_NEAR(o.duration_s(), 1.0, 0.02);
  int zc = 0;
  for (std::size_t i = 4000; i < 12000; ++i) zc += (o.samples[i - 1] < 0) != (o.samples[i] < 0);
  EXPECT_NEAR(zc, 500, 4);

  std::ifstream in(path("a.flac"), std::ios::binary);
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(decode_audio_bytes(bytes, "-").samples, f.samples);  // custom AVIO from memory
}

// Lossy codecs and containers the FunASR Python/HTML5 clients hand us (mp3, aac in m4a/mp4,
// opus in ogg, audio track of mkv). Encoded at test time with Debian's ffmpeg CLI.
TEST_F(AudioFile, CompressedFormatsViaFfmpeg) {
  if (std::system("ffmpeg -version > /dev/null 2>&1") != 0) GTEST_SKIP() << "ffmpeg not installed";
  // A plain canonical WAV (the LIST chunk of wav16() is stricter than ffmpeg accepts).
  const std::string make = "ffmpeg -nostdin -loglevel error -y -f lavfi -i sine=frequency=500:sample_rate=16000:duration=1 " +
                           path("base.wav");
  ASSERT_EQ(std::system(make.c_str()), 0) << make;
  struct Case { const char* name; const char* args; const char* format_prefix; };
  const Case cases[] = {
      {"a.mp3", "-c:a libmp3lame -b:a 64k", "mp3"},
      {"a.m4a", "-c:a aac -b:a 64k", "mov"},
      {"a.opus", "-c:a libopus -b:a 32k", "ogg"},
      {"a.mp4", "-c:a aac -b:a 64k", "mov"},
      {"a.mkv", "-c:a libopus -b:a 32k", "matroska"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string cmd = "ffmpeg -nostdin -loglevel error -y -i " + path("base.wav") + " -ar 48000 -ac 2 " +
                            c.args + " " + path(c.name);
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    const auto a = decode_audio_file(path(c.name));
    EXPECT_EQ(a.format.rfind(c.format_prefix, 0), 0u) << a.format;
    EXPECT_EQ(a.channels, 2);
    EXPECT_EQ(a.source_rate, 48000);
    // Encoder delay/padding may add a few ms; the tone must survive at its frequency.
    EXPECT_NEAR(a.duration_s(), 1.0, 0.08);
    ASSERT_GT(a.samples.size(), 14000u);
    int zc = 0;
    for (std::size_t i = 4000; i < 12000; ++i) zc += (a.samples[i - 1] < 0) != (a.samples[i] < 0);
    EXPECT_NEAR(zc, 500, 6);
  }
}

TEST_F(AudioFile, StreamedWavOfUnknownLength) {
  const auto x = tone16(3200, 440, 16000);
  write(path("u.wav"), wav16(x, 16000, 1, 0xFFFFFFFF));
  EXPECT_EQ(decode_audio_file(path("u.wav")).samples.size(), x.size());
  write(path("v.wav"), wav16(x, 16000, 1, 0x7FFFF000));  // sox's placeholder when piping
  EXPECT_EQ(decode_audio_file(path("v.wav")).samples.size(), x.size());
}

TEST_F(AudioFile, RawPcm) {
  const auto x = tone16(800, 440, 8000);
  std::string bytes;
  for (auto v : x) put16(bytes, static_cast<std::uint16_t>(v));
  write(path("a.pcm"), bytes);
  const auto a = decode_raw_pcm_s16le(path("a.pcm"), 8000);
  EXPECT_EQ(a.format, "raw-s16le");
  EXPECT_NEAR(static_cast<double>(a.samples.size()), 1600.0, 2.0);
  write(path("odd.pcm"), bytes + "x");
  expect_error([&] { decode_raw_pcm_s16le(path("odd.pcm"), 8000); }, path("odd.pcm"), "truncated");
  expect_error([&] { decode_raw_pcm_s16le(path("a.pcm"), 0); }, path("a.pcm"), "sample rate");
  write(path("empty.pcm"), "");
  expect_error([&] { decode_raw_pcm_s16le(path("empty.pcm"), 16000); }, path("empty.pcm"), "empty file");
  // One sample at 44.1 kHz resamples to none: an error, not an empty success (fuzz finding;
  // tests/fuzz/audio_file/regressions/one_sample_44k.pcm).
  write(path("one.pcm"), "Ig");
  expect_error([&] { decode_raw_pcm_s16le(path("one.pcm"), 44100); }, path("one.pcm"),
               "no audio samples (1 at 44100 Hz is shorter than one sample at 16 kHz)");
  write(path("short.wav"), wav16(std::vector<std::int16_t>(16, 100), 531776, 1));
  expect_error([&] { decode_audio_file(path("short.wav")); }, path("short.wav"), "no audio samples (16 at 531776 Hz");
}

TEST_F(AudioFile, ErrorPaths) {
  const auto x = tone16(1600, 440, 16000);
  const std::string good = wav16(x, 16000, 1);
  auto check = [&](const std::string& name, const std::string& bytes, const std::string& needle) {
    write(path(name), bytes);
    expect_error([&] { decode_audio_file(path(name)); }, path(name), needle);
    const std::vector<std::uint8_t> mem(bytes.begin(), bytes.end());
    expect_error([&] { decode_audio_bytes(mem, "stdin"); }, "stdin", needle);
  };
  expect_error([&] { decode_audio_file(path("missing.wav")); }, path("missing.wav"), "cannot open");
  check("empty.wav", "", "empty file");
  check("trunc.wav", good.substr(0, good.size() - 100), "truncated WAV");
  check("nodata.wav", good.substr(0, 36), "no 'data' chunk");
  static constexpr char kNoFmt[] = "RIFF\x10\0\0\0WAVEdata\x04\0\0\0\x01\x02\x03\x04";
  const std::string no_fmt(kNoFmt, sizeof(kNoFmt) - 1);  // embedded NULs
  check("nofmt.wav", no_fmt, "'data' chunk before 'fmt '");
  std::string bad_align = good;
  bad_align[32] = 3;  // block align 3 for mono 16-bit
  check("align.wav", bad_align, "block align");
  std::string bits12 = good;
  bits12[34] = 12;
  check("bits.wav", bits12, "12-bit PCM");
  std::string zero_rate = good;
  zero_rate[24] = zero_rate[25] = zero_rate[26] = zero_rate[27] = 0;
  check("rate.wav", zero_rate, "sample rate 0");
  check("odd.wav", wav16(x, 16000, 1, 3), "not a multiple of the block size");
  check("zero.wav", wav16({}, 16000, 1), "no audio samples");
  std::string text = "this is not audio at all, just some text that ffmpeg cannot identify\n";
  for (int i = 0; i < 5; ++i) text += text;
  check("text.wav", text, "unrecognised or unsupported audio format");
  std::mt19937 rng(1);
  std::string noise(4096, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  check("noise.bin", noise, "");  // any one-line "<name>: ..." error
}

TEST_F(AudioFile, TruncatedFlacIsDecodedOrRejectedCleanly) {
  if (!have_sox()) GTEST_SKIP() << "sox not installed";
  write(path("base.wav"), wav16(tone16(16000, 500, 16000), 16000, 1));
  sox(path("base.wav") + " " + path("a.flac"));
  const auto full = fs::file_size(path("a.flac"));
  fs::resize_file(path("a.flac"), full / 2);
  try {
    const auto a = decode_audio_file(path("a.flac"));  // FFmpeg decodes what is there
    EXPECT_LT(a.samples.size(), 16000u);
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(path("a.flac") + ": ", 0), 0u) << e.what();
  }
  fs::resize_file(path("a.flac"), 20);  // header only
  expect_error([&] { decode_audio_file(path("a.flac")); }, path("a.flac"), "");
}

// Float WAVs can hold NaN, infinities and huge values; the decoder promises finite samples
// in [-1, 1) (found by the audio_bytes and audio_file fuzz targets; regression inputs under
// tests/fuzz/audio_*/regressions). At 16 kHz
// the values map one to one; at 8 kHz one NaN would otherwise spread through the resampler.
// A mono 32-bit IEEE-float WAV holding `x` at `rate`.
std::string float_wav(const std::vector<float>& x, int rate) {
  std::string s = "RIFF";
  put32(s, static_cast<std::uint32_t>(36 + x.size() * 4));
  s += "WAVEfmt ";
  put32(s, 16);
  put16(s, 3);  // IEEE float
  put16(s, 1);
  put32(s, static_cast<std::uint32_t>(rate));
  put32(s, static_cast<std::uint32_t>(rate * 4));
  put16(s, 4);
  put16(s, 32);
  s += "data";
  put32(s, static_cast<std::uint32_t>(x.size() * 4));
  for (float v : x) {
    std::uint32_t u;
    std::memcpy(&u, &v, 4);
    put32(s, u);
  }
  return s;
}

TEST_F(AudioFile, FloatWavNanAndInfinityBecomeFinite) {
  constexpr float kMax = 32767.0f / 32768.0f;
  const float nan = std::nanf(""), inf = INFINITY;
  // 3e38 is finite but overflows a resampler's filter sum (found by the audio_file target).
  const std::vector<float> x = {0.25f, nan, inf, -inf, -0.5f, 2.0f, nan, 0.0f, 3e38f, -3e38f, 3e38f, 0.1f};
  for (int rate : {16000, 8000}) {
    const std::string s = float_wav(x, rate);
    const std::vector<std::uint8_t> bytes(s.begin(), s.end());
    const auto a = decode_audio_bytes(bytes, "nan.wav");
    ASSERT_FALSE(a.samples.empty());
    for (float v : a.samples) {
      EXPECT_TRUE(std::isfinite(v)) << rate;
      EXPECT_GE(v, -1.0f);
      EXPECT_LE(v, kMax);
    }
    if (rate == 16000) {
      EXPECT_EQ(a.samples,
                (std::vector<float>{0.25f, 0.0f, kMax, -1.0f, -0.5f, kMax, 0.0f, 0.0f, kMax, -1.0f, kMax, 0.1f}));
    }
  }
}

}  // namespace
}  // namespace paraserve

namespace paraserve {
namespace {

// AudioReader (block-by-block decoding) gives exactly the samples of the whole-file decoders.
std::vector<float> read_all(AudioReader& r, std::size_t* blocks = nullptr) {
  std::vector<float> all, block;
  std::size_t n = 0;
  while (r.read(block)) {
    EXPECT_FALSE(block.empty());
    all.insert(all.end(), block.begin(), block.end());
    ++n;
  }
  EXPECT_FALSE(r.read(block));  // stays at the end
  if (blocks) *blocks = n;
  return all;
}

TEST_F(AudioFile, ReaderMatchesWholeFileDecoding) {
  std::mt19937 rng(5);
  std::vector<std::int16_t> noise(3 * 44100 * 2);
  for (auto& v : noise) v = static_cast<std::int16_t>(static_cast<int>(rng() % 20000) - 10000);
  write(path("s44.wav"), wav16(noise, 44100, 2));  // resampled and mixed, many blocks
  write(path("m16.wav"), wav16(tone16(40000, 300, 16000), 16000, 1));
  write(path("u.wav"), wav16(tone16(20000, 440, 16000), 16000, 1, 0xFFFFFFFF));
  std::vector<std::string> names = {"s44.wav", "m16.wav", "u.wav"};
  if (have_sox()) {
    sox(path("s44.wav") + " -b 24 " + path("s24.wav"));
    sox(path("s44.wav") + " -b 32 -e floating-point " + path("f32.wav"));
    sox(path("m16.wav") + " -e a-law " + path("alaw.wav"));  // WAV that FFmpeg decodes
    sox(path("s44.wav") + " " + path("a.flac"));
    sox(path("s44.wav") + " -r 48000 " + path("a.ogg"));
    names.insert(names.end(), {"s24.wav", "f32.wav", "alaw.wav", "a.flac", "a.ogg"});
  }
  for (const auto& name : names) {
    SCOPED_TRACE(name);
    const auto whole = decode_audio_file(path(name));
    auto r = AudioReader::open(path(name));
    std::size_t blocks = 0;
    EXPECT_EQ(read_all(*r, &blocks), whole.samples);
    EXPECT_EQ(r->format(), whole.format);
    EXPECT_EQ(r->source_rate(), whole.source_rate);
    EXPECT_EQ(r->channels(), whole.channels);
    if (name == "s44.wav") {
      EXPECT_GE(blocks, 8u);  // really incremental
    }
  }
  std::string bytes;
  for (auto v : tone16(30000, 440, 8000)) put16(bytes, static_cast<std::uint16_t>(v));
  write(path("a.pcm"), bytes);
  auto r = AudioReader::open_raw_s16le(path("a.pcm"), 8000);
  EXPECT_EQ(read_all(*r), decode_raw_pcm_s16le(path("a.pcm"), 8000).samples);
}

TEST_F(AudioFile, ReaderRejectsBadHeadersAtOpen) {
  const auto x = tone16(1600, 440, 16000);
  const std::string good = wav16(x, 16000, 1);
  auto check = [&](const std::string& name, const std::string& bytes, const std::string& needle) {
    write(path(name), bytes);
    expect_error([&] { AudioReader::open(path(name)); }, path(name), needle);
  };
  expect_error([&] { AudioReader::open(path("missing.wav")); }, path("missing.wav"), "cannot open");
  check("empty.wav", "", "empty file");
  check("trunc.wav", good.substr(0, good.size() - 100), "truncated WAV");  // before any sample is read
  check("nodata.wav", good.substr(0, 36), "no 'data' chunk");
  std::string bad_align = good;
  bad_align[32] = 3;
  check("align.wav", bad_align, "block align");
  check("odd.wav", wav16(x, 16000, 1, 3), "not a multiple of the block size");
  write(path("zero.wav"), wav16({}, 16000, 1));
  auto r = AudioReader::open(path("zero.wav"));
  std::vector<float> block;
  expect_error([&] { r->read(block); }, path("zero.wav"), "no audio samples");
  write(path("odd.pcm"), "abc");
  expect_error([&] { AudioReader::open_raw_s16le(path("odd.pcm"), 8000); }, path("odd.pcm"), "truncated");
}

// The streaming reader (transcribe) sanitizes float samples exactly as the whole-file
// decoders do (fuzz findings: NaN, infinities and values that overflow the resampler).
TEST_F(AudioFile, ReaderSanitizesFloatSamplesLikeWholeFile) {
  const std::vector<float> x = {0.25f, std::nanf(""), INFINITY, -INFINITY, -0.5f, 3e38f, -3e38f, 0.1f, 0.2f, 0.3f};
  for (int rate : {16000, 8000}) {
    const std::string s = float_wav(x, rate);
    write(path("nan.wav"), s);
    const auto whole = decode_audio_file(path("nan.wav"));
    auto r = AudioReader::open(path("nan.wav"));
    const auto streamed = read_all(*r);
    EXPECT_EQ(streamed, whole.samples) << rate;
    for (float v : streamed) EXPECT_TRUE(std::isfinite(v)) << rate;
  }
}

}  // namespace
}  // namespace paraserve
