// `paraserve transcribe` end to end through the built binary (PARASERVE_BIN, set by CTest),
// with the behavioural models. Expected texts follow docs/test-models.md and the offline
// punctuation rules (funasr-compat.md §3.5.2) applied to behaviour.json by hand.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "../models_required.h"

namespace {

// CTest runs this program's tests as parallel processes: every scratch file name carries
// the process id so that two tests never share one.
std::string scratch_path(const std::string& name) {
  return ::testing::TempDir() + "/" + std::to_string(::getpid()) + "_" + name;
}

std::string bin() {
  const char* b = std::getenv("PARASERVE_BIN");
  if (b && *b) return b;
  return std::string(PARASERVE_BINARY_DIR) + "/paraserve";
}

const std::string kBehav = std::string(PARASERVE_TEST_MODELS) + "/behav";
const std::string kTiny = std::string(PARASERVE_TEST_MODELS) + "/tiny";

struct CliRun {
  int rc = -1;
  std::string out, err;
};

CliRun run(const std::string& args) {
  const std::string err_file = scratch_path("transcribe_stderr.txt");
  const std::string cmd = bin() + " " + args + " 2>" + err_file;
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int status = pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream e(err_file);
  std::stringstream ss;
  ss << e.rdbuf();
  r.err = ss.str();
  return r;
}

std::string models_args(const std::string& offline = "offline-ts", const std::string& punc = "punc-offline") {
  return "transcribe --vad-dir " + kBehav + "/vad --model-dir " + kBehav + "/" + offline + " --online-model-dir " +
         kBehav + "/online --punc-dir " + kBehav + "/" + punc + " --quantize false --vad-quant false --punc-quant false ";
}

bool ready() { return std::filesystem::exists(kBehav + "/behaviour.json") && std::filesystem::exists(bin()); }

#define REQUIRE_READY() \
  if (!ready()) PARASERVE_MODELS_MISSING("needs models/behav and the paraserve binary")

// Offline punctuation of the joined raw texts with punc_table (好→，, 界→。, 吗→？, world→。):
// "你好世界" -> "你好，世界。"; the last window always ends in 。/？ (§3.5.2).
TEST(TranscribeCli, TextOutput) {
  REQUIRE_READY();
  CliRun r = run(models_args() + kBehav + "/audio/one_sentence.wav");
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "你好，世界。\n");
  // "今天气很好" + "hello world" + "我们是server吗": 好→，, world→。, 吗→？ ends the text.
  r = run(models_args() + kBehav + "/audio/three_sentences.wav");
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "今天气很好，hello world。我们是server吗？\n");
  // No punctuation model and no VAD: raw text of the whole file as one segment.
  r = run("transcribe --model-dir " + kBehav + "/offline --quantize false " + kBehav + "/audio/one_sentence.wav");
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "你好世界\n");
  // A realtime punctuation model also serves the offline algorithm.
  r = run(models_args("offline", "punc") + kBehav + "/audio/no_trailing_silence.wav");
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "你好，吗？\n");
}

TEST(TranscribeCli, JsonHasTimestampsAndSentences) {
  REQUIRE_READY();
  CliRun r = run(models_args() + "--format json " + kBehav + "/audio/one_sentence.wav");
  ASSERT_EQ(r.rc, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["text"], "你好，世界。");
  ASSERT_EQ(j["timestamp"].size(), 4u);
  const double onsets[] = {500, 860, 1220, 1580};  // behaviour.json word_onsets_s
  for (int k = 0; k < 4; ++k) {
    const double b = j["timestamp"][k][0].get<double>();
    EXPECT_GE(b, onsets[k] - 16);  // docs/test-models.md: within [-15, +45] ms of the onset
    EXPECT_LE(b, onsets[k] + 46);
  }
  ASSERT_EQ(j["stamp_sents"].size(), 2u);  // "你好，" and "世界。"
  EXPECT_EQ(j["stamp_sents"][0]["punc"], "，");
  EXPECT_EQ(j["stamp_sents"][1]["punc"], "。");
  EXPECT_NEAR(j["duration"].get<double>(), 3.44, 0.01);
  EXPECT_GE(j["rtf"].get<double>(), 0.0);
}

TEST(TranscribeCli, SrtHasOneCuePerSentence) {
  REQUIRE_READY();
  CliRun r = run(models_args() + "--format srt " + kBehav + "/audio/one_sentence.wav");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out.rfind("1\n00:00:00,", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("\n你好，\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\n2\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\n世界。\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("\n3\n"), std::string::npos) << r.out;
}

TEST(TranscribeCli, BadFileFailsAloneWithNonZeroExit) {
  REQUIRE_READY();
  const std::string bad = scratch_path("not_audio.wav");
  {
    std::ofstream f(bad);
    f << "this is not audio";
  }
  CliRun r = run(models_args() + "--threads 2 " + kBehav + "/audio/one_sentence.wav " + bad + " " + kBehav +
              "/audio/no_trailing_silence.wav");
  EXPECT_NE(r.rc, 0);
  // The good files are still transcribed, in input order.
  const std::string a = kBehav + "/audio/one_sentence.wav\t你好，世界。\n";
  const std::string b = kBehav + "/audio/no_trailing_silence.wav\t";
  EXPECT_EQ(r.out.rfind(a, 0), 0u) << r.out;
  EXPECT_NE(r.out.find(b), std::string::npos) << r.out;
  // Exactly one error line, naming the file.
  EXPECT_NE(r.err.find(bad), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(TranscribeCli, MissingModelDirIsAClearError) {
  REQUIRE_READY();
  CliRun r = run("transcribe --model-dir /nonexistent/dir " + kBehav + "/audio/one_sentence.wav");
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.err.find("/nonexistent/dir"), std::string::npos) << r.err;
}

// ---------------------------------------------------------------------------------------
// FunASR's offline runtime (funasr-onnx-offline: FunOfflineInfer + Audio::CutSplit).

// Writes a mono s16 WAV.
void write_wav(const std::string& path, const std::vector<int16_t>& x, int rate = 16000) {
  std::ofstream f(path, std::ios::binary);
  auto u32 = [&](uint32_t v) { f.write(reinterpret_cast<const char*>(&v), 4); };
  auto u16 = [&](uint16_t v) { f.write(reinterpret_cast<const char*>(&v), 2); };
  const auto bytes = static_cast<uint32_t>(x.size() * 2);
  f.write("RIFF", 4);
  u32(36 + bytes);
  f.write("WAVEfmt ", 8);
  u32(16);
  u16(1);
  u16(1);
  u32(static_cast<uint32_t>(rate));
  u32(static_cast<uint32_t>(rate * 2));
  u16(2);
  u16(16);
  f.write("data", 4);
  u32(bytes);
  f.write(reinterpret_cast<const char*>(x.data()), static_cast<std::streamsize>(bytes));
}

// The behavioural audio rules (behaviour.json "synthesis"): per sentence, each token is a
// 240 ms tone burst with 10 ms ramps and 120 ms of zeros; `pause_s` between sentences,
// 0.5 s lead, 1.5 s trail.
std::vector<int16_t> behav_audio(const std::vector<std::vector<std::string>>& sentences, double pause_s) {
  std::ifstream jf(kBehav + "/behaviour.json");
  const auto j = nlohmann::json::parse(jf);
  const auto& syn = j["synthesis"];
  auto freq = [&](const std::string& tok) {
    for (const auto& t : j["tone_table"])
      if (t["token"] == tok) return t["freq_hz"].get<double>();
    throw std::runtime_error("no tone for " + tok);
  };
  const int sr = 16000;
  auto zeros = [&](std::vector<int16_t>& x, double s) { x.insert(x.end(), static_cast<std::size_t>(std::lround(s * sr)), 0); };
  std::vector<int16_t> x;
  zeros(x, syn["lead_s"].get<double>());
  for (std::size_t si = 0; si < sentences.size(); ++si) {
    if (si) zeros(x, pause_s);
    for (const auto& tok : sentences[si]) {
      const int n = static_cast<int>(std::lround(syn["burst_s"].get<double>() * sr));
      const int fade = static_cast<int>(std::lround(syn["fade_s"].get<double>() * sr));
      const double f = freq(tok), amp = syn["amplitude"].get<double>();
      for (int i = 0; i < n; ++i) {
        const double env = std::min({1.0, static_cast<double>(i) / fade, static_cast<double>(n - 1 - i) / fade});
        x.push_back(static_cast<int16_t>(std::lround(amp * env * std::sin(2 * M_PI * f * i / sr) * 32767)));
      }
      zeros(x, syn["gap_s"].get<double>());
    }
  }
  zeros(x, syn["trail_s"].get<double>());
  return x;
}

// (b) FunOfflineInfer concatenates the segments' texts as they are (no space for the
// zh-cn language) and punctuates the whole with CTTransformer::AddPunc, whose tokenizer
// makes one token of a run of ASCII: "hello" + "world" from two segments is "helloworld",
// unknown to the punctuation vocabulary (-> `_`), so no 。 after it. The old transcriber
// put a space between ASCII words of adjacent segments ("hello world。我们hello吗？").
TEST(TranscribeCli, ManyShortSegmentsAreJoinedAsFunAsrOffline) {
  REQUIRE_READY();
  const std::string wav = scratch_path("short_segments.wav");
  write_wav(wav, behav_audio({{"hello"}, {"world"}, {"我"}, {"们"}, {"hello"}, {"吗"}}, 2.0));
  CliRun r = run(models_args() + wav);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "helloworld我们hello吗？\n");

  r = run(models_args() + "--format json " + wav);
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["segments"].size(), 6u) << r.out;  // one VAD segment per word
  const char* words[] = {"hello", "world", "我", "们", "hello", "吗"};
  for (int k = 0; k < 6; ++k) EXPECT_EQ(j["segments"][k]["text"], words[k]);
  EXPECT_EQ(j["text"], "helloworld我们hello吗？");
  // One stamp per segment word; TimestampSentence walks the units of the final text
  // (helloworld 我 们 hello 吗 ？), so the five word units take the first five stamps.
  const auto& ts = j["timestamp"];
  ASSERT_EQ(ts.size(), 6u);
  for (std::size_t k = 1; k < 6; ++k) EXPECT_GT(ts[k][0].get<int64_t>(), ts[k - 1][1].get<int64_t>());
  ASSERT_EQ(j["stamp_sents"].size(), 1u) << j["stamp_sents"].dump();
  const auto& s = j["stamp_sents"][0];
  EXPECT_EQ(s["text_seg"], "helloworld 我 们 hello 吗");
  EXPECT_EQ(s["punc"], "？");
  EXPECT_EQ(s["start"], ts[0][0]);
  EXPECT_EQ(s["end"], ts[4][1]);
  EXPECT_EQ(s["ts_list"], nlohmann::json(std::vector<nlohmann::json>(ts.begin(), ts.begin() + 5)));
}

// FunOfflineInfer's conversion of a segment-relative stamp (PostProcess's "%f" seconds) to
// ms: start = (float)start_sample / 16000, begin = stof(s) + start in float, (int)(1000*begin).
int offline_ms(float rel_s, int64_t segment_start_ms) {
  const float start = static_cast<float>(segment_start_ms * 16) / 16000;
  const float begin = std::stof(std::to_string(rel_s)) + start;
  return static_cast<int>(1000 * begin);
}
// The 2pass server's (FunTpassInferBuffer): float(global_start)/1000.0 in double.
int tpass_ms(float rel_s, int64_t segment_start_ms) {
  const float begin = static_cast<float>(std::stof(std::to_string(rel_s)) + static_cast<float>(segment_start_ms) / 1000.0);
  return static_cast<int>(1000 * begin);
}

// (a) Token stamps after the first segment use the offline runtime's float arithmetic.
TEST(TranscribeCli, TimestampsUseFunAsrOfflineArithmetic) {
  REQUIRE_READY();
  CliRun r = run(models_args() + "--format json " + kBehav + "/audio/three_sentences.wav");
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["segments"].size(), 3u);
  const int64_t s3 = j["segments"][2]["start"].get<int64_t>();
  ASSERT_EQ(s3, 6740);
  // Third sentence: onsets 7.02 7.38 7.74 8.10 (ser@@) 8.82 s, i.e. LFR frames 5, 11, 17,
  // 23, 35 after the segment start; the behavioural timestamp model starts token k at
  // 60*t_k + 10 ms: 0.31, 0.67, 1.03, 1.39, 2.11 s (server takes ser@@'s start).
  const float rel[] = {0.31f, 0.67f, 1.03f, 1.39f, 2.11f};
  const auto& ts = j["timestamp"];
  ASSERT_EQ(ts.size(), 12u);
  int differs = 0;
  for (int k = 0; k < 5; ++k) {
    EXPECT_EQ(ts[7 + k][0].get<int>(), offline_ms(rel[k], s3)) << k;
    differs += offline_ms(rel[k], s3) != tpass_ms(rel[k], s3);
  }
  EXPECT_GE(differs, 2);  // 7049 vs 7050, 7769 vs 7770: the server's arithmetic would fail here
  const std::string expected =
      "[[530,890],[890,1250],[1250,1610],[1610,1970],[1970,2265],[4330,4690],[4690,4985],"
      "[7049,7410],[7410,7769],[7769,8130],[8130,8849],[8849,9144]]";
  EXPECT_EQ(ts.dump(), expected);
  EXPECT_EQ(j["stamp_sents"][1]["start"], 7049);
}

// Reads a mono s16 WAV written by the generator (canonical 44-byte header).
std::vector<int16_t> read_wav_samples(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<char> b((std::istreambuf_iterator<char>(f)), {});
  std::size_t pos = 12;
  while (pos + 8 <= b.size()) {
    uint32_t size;
    std::memcpy(&size, &b[pos + 4], 4);
    if (std::memcmp(&b[pos], "data", 4) == 0) {
      std::vector<int16_t> x(std::min<std::size_t>(size, b.size() - pos - 8) / 2);
      std::memcpy(x.data(), &b[pos + 8], x.size() * 2);
      return x;
    }
    pos += 8 + size + (size & 1);
  }
  return {};
}

// Peak RSS (KiB) of one `paraserve` run, stdout discarded.
long peak_rss_kib(const std::string& args_line) {
  std::vector<std::string> args = {bin()};
  std::istringstream in(args_line);
  for (std::string a; in >> a;) args.push_back(a);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0) return -1;
  posix_spawn_file_actions_destroy(&fa);
  int status = 0;
  struct rusage ru {};
  if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
  return ru.ru_maxrss;
}

// #6a: the file is decoded, segmented and punctuated as a stream, so the peak memory does
// not depend on its length (before: the whole file's samples, features and VAD scores were
// held at once, ~60 MB per minute of audio).
TEST(TranscribeCli, PeakMemoryDoesNotGrowWithFileLength) {
  if (!std::filesystem::exists(kTiny + "/offline-ts/model.onnx") || !ready()) PARASERVE_MODELS_MISSING("needs models/tiny and models/behav");
  std::vector<int16_t> unit;
  for (const char* f : {"sample", "three_sentences", "one_sentence", "silence"}) {
    const auto x = read_wav_samples(kBehav + "/audio/" + f + ".wav");
    unit.insert(unit.end(), x.begin(), x.end());
  }
  auto repeat = [&](double seconds) {
    std::vector<int16_t> x;
    while (x.size() < static_cast<std::size_t>(seconds * 16000)) x.insert(x.end(), unit.begin(), unit.end());
    return x;
  };
  const std::string short_wav = scratch_path("rss_2min.wav");
  const std::string long_wav = scratch_path("rss_20min.wav");
  write_wav(short_wav, repeat(120));
  write_wav(long_wav, repeat(1200));
  const std::string args = "transcribe --vad-dir " + kTiny + "/vad --model-dir " + kTiny + "/offline-ts --online-model-dir " +
                           kTiny + "/online --punc-dir " + kTiny + "/punc-offline ";
  const long short_kib = peak_rss_kib(args + short_wav);
  const long long_kib = peak_rss_kib(args + long_wav);
  std::filesystem::remove(short_wav);
  std::filesystem::remove(long_wav);
  ASSERT_GT(short_kib, 0);
  ASSERT_GT(long_kib, 0);
  RecordProperty("peak_rss_kib_2min", std::to_string(short_kib));
  RecordProperty("peak_rss_kib_20min", std::to_string(long_kib));
  // 10x the audio (18 min more, ~1 GB before): within a few MB of the short file's peak.
  EXPECT_LT(long_kib, short_kib + 6 * 1024) << "2 min: " << short_kib << " KiB, 20 min: " << long_kib << " KiB";
}

}  // namespace
