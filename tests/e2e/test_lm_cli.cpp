// `paraserve transcribe --lm-dir` end to end with the behavioural models and a test LM written
// by tools/modelgen/lm/make_lm.py into a temporary directory. The expected texts follow from
// the generator's documented costs (every word 2, "们" 1, "界" 40) and the behavioural
// offline model's 20-nat margin per token (docs/test-models.md), not from our output.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "../models_required.h"
#include "cli_util.h"

namespace {

namespace fs = std::filesystem;
const std::string kBehav = std::string(PARASERVE_TEST_MODELS) + "/behav";

struct CliResult {
  int rc = -1;
  std::string out, err;
};

class LmCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(fs::temp_directory_path() / ("paraserve-lm-cli-" + std::to_string(::getpid())));
    fs::remove_all(*root_);
    fs::create_directories(*root_);
    if (!fs::exists(kBehav + "/online/tokens.json")) return;
    const std::string cmd = "/usr/bin/python3 " PARASERVE_SOURCE_DIR "/tools/modelgen/lm/make_lm.py --tokens " + kBehav +
                            "/online/tokens.json --out " + lm().string() + " >/dev/null 2>&1";
    const int st = std::system(cmd.c_str());
    gen_rc_ = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }
  static void TearDownTestSuite() {
    fs::remove_all(*root_);
    delete root_;
  }
  void SetUp() override {
    if (!fs::exists(kBehav + "/behaviour.json"))
      PARASERVE_MODELS_MISSING("needs models/behav (scripts/make-models.sh behav)");
    ASSERT_EQ(gen_rc_, 0) << "tools/modelgen/lm/make_lm.py failed (needs python3 and libfst-tools)";
  }
  static fs::path lm() { return *root_ / "lm"; }
  static std::string file(const std::string& name, const std::string& text) {
    const fs::path p = *root_ / name;
    std::ofstream(p) << text;
    return p.string();
  }
  static CliResult transcribe(const std::string& args, const std::string& audio = "one_sentence.wav",
                        const std::string& offline = "offline") {
    const std::string err = (*root_ / "stderr.txt").string();
    const std::string out = (*root_ / "stdout.txt").string();
    std::string cmd = "(";
    cmd += paraserve::test::paraserve_bin() + " transcribe --vad-dir " + kBehav + "/vad --model-dir " +
                            kBehav + "/" + offline + " --online-model-dir " + kBehav +
                            "/online --quantize false --vad-quant false " + args + " " + kBehav + "/audio/" + audio +
                            " >" + out + " 2>" + err + ")";
    CliResult r;
    paraserve::test::run_shell(cmd, &r.rc);
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
  }
  static std::string slurp(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
  static std::string text(const CliResult& r) {  // "file<TAB>text\n" -> text
    const auto tab = r.out.find('\t');
    std::string t = tab == std::string::npos ? r.out : r.out.substr(tab + 1);
    while (!t.empty() && t.back() == '\n') t.pop_back();
    return t;
  }
  static inline fs::path* root_ = nullptr;
  static inline int gen_rc_ = -1;
};

TEST_F(LmCli, WithoutAndWithTheLm) {
  const std::string lm_flag = "--lm-dir " + lm().string();
  CliResult r = transcribe("");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(text(r), "你好世界");
  // Default --am-scale 10: acoustic margin 200 per token, the LM (界 costs 38 more) changes nothing.
  r = transcribe(lm_flag);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(text(r), "你好世界");
  // --am-scale 1.5: margin 30 < 40 - 1: "界" becomes "们".
  r = transcribe(lm_flag + " --am-scale 1.5");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(text(r), "你好世们");
  // The other sentences keep their text (no other word is penalised), including the
  // two-token word "server" and the English words.
  r = transcribe(lm_flag + " --am-scale 1.5", "three_sentences.wav");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(text(r), "今天气很好hello world我们是server吗");
  // A tiny global beam prunes nothing here (<= 200 tokens alive: Kaldi's min_active).
  r = transcribe(lm_flag + " --am-scale 1.5 --global-beam 0.01 --lattice-beam 0.01");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(text(r), "你好世们");
}

TEST_F(LmCli, HotwordFileRestoresTheWord) {
  const std::string base = "--lm-dir " + lm().string() + " --am-scale 1.5 ";
  // Default --fst-inc-wts 20: 2 + 40 - (20 + 20 + 20) < 2 + 31.
  CliResult r = transcribe(base + "--hotword " + file("hw.txt", "世界 20\n"));
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(text(r), "你好世界");
  // Without the per-token increment the weight alone must beat 9.
  r = transcribe(base + "--fst-inc-wts 0 --hotword " + file("hw5.txt", "世界 5\n"));
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(text(r), "你好世们");
  r = transcribe(base + "--fst-inc-wts 0 --hotword " + file("hw15.txt", "世界 15\n"));
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(text(r), "你好世界");
  // Invalid lines are reported (file:line) and skipped; the valid one still applies.
  r = transcribe(base + "--hotword " + file("hwbad.txt", "lonely\n世界 20\n今天 abc\n"));
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(text(r), "你好世界");
  EXPECT_NE(r.err.find("hwbad.txt:1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("hwbad.txt:3"), std::string::npos) << r.err;
  // Without an LM, hotwords have no effect (FunASR: FST hotwords need the LM).
  r = transcribe("--hotword " + file("hw.txt", "世界 20\n"));
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(text(r), "你好世界");
  EXPECT_NE(r.err.find("no effect without --lm-dir"), std::string::npos) << r.err;
}

TEST_F(LmCli, TimestampModelWithTheLm) {
  // Single-token words: the LM path gives the same text and stamps as greedy decoding.
  CliResult plain = transcribe("--format json", "one_sentence.wav", "offline-ts");
  CliResult with_lm = transcribe("--format json --lm-dir " + lm().string(), "one_sentence.wav", "offline-ts");
  ASSERT_EQ(plain.rc, 0) << plain.err;
  ASSERT_EQ(with_lm.rc, 0) << with_lm.err;
  const auto a = nlohmann::json::parse(plain.out), b = nlohmann::json::parse(with_lm.out);
  EXPECT_EQ(b["text"], "你好世界");
  EXPECT_EQ(a["timestamp"], b["timestamp"]);
  ASSERT_EQ(b["timestamp"].size(), 4u);
  // With the LM flip, "们" takes "界"'s stamp.
  CliResult flip = transcribe("--format json --am-scale 1.5 --lm-dir " + lm().string(), "one_sentence.wav", "offline-ts");
  ASSERT_EQ(flip.rc, 0) << flip.err;
  const auto c = nlohmann::json::parse(flip.out);
  EXPECT_EQ(c["text"], "你好世们");
  EXPECT_EQ(a["timestamp"], c["timestamp"]);
}

TEST_F(LmCli, LoadingErrorsNameTheFile) {
  CliResult r = transcribe("--lm-dir " + (*root_ / "nope").string());
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.err.find("nope"), std::string::npos) << r.err;
  // A copy of the LM with a corrupt graph.
  const fs::path bad = *root_ / "badlm";
  fs::remove_all(bad);
  fs::copy(lm(), bad);
  std::ofstream(bad / "TLG.fst", std::ios::trunc) << "garbage";
  r = transcribe("--lm-dir " + bad.string());
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.err.find((bad / "TLG.fst").string()), std::string::npos) << r.err;
  // Missing lexicon.txt (FunASR silently skips the LM then; paraserve refuses to start).
  fs::remove(bad / "lexicon.txt");
  r = transcribe("--lm-dir " + bad.string());
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.err.find((bad / "lexicon.txt").string()), std::string::npos) << r.err;
  // Bad beams are rejected.
  r = transcribe("--lm-dir " + lm().string() + " --global-beam 0");
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.err.find("--global-beam"), std::string::npos) << r.err;
}

TEST_F(LmCli, SenseVoiceIgnoresTheLm) {
  // FunASR clears --lm-dir for a SenseVoiceSmall offline model; paraserve says so once.
  const CliResult plain = transcribe("", "one_sentence.wav", "SenseVoiceSmall");
  const CliResult with_lm = transcribe("--lm-dir " + lm().string() + " --am-scale 1.5", "one_sentence.wav", "SenseVoiceSmall");
  ASSERT_EQ(plain.rc, 0) << plain.err;
  ASSERT_EQ(with_lm.rc, 0) << with_lm.err;
  EXPECT_EQ(plain.out, with_lm.out);
  EXPECT_NE(with_lm.err.find("not used with the SenseVoiceSmall"), std::string::npos) << with_lm.err;
}

TEST_F(LmCli, ServeAcceptsTheLmFlags) {
  // `serve` loads the LM with the other models (here it fails on the missing LM dir first).
  int rc = 0;
  const std::string out = paraserve::test::run_shell(
      paraserve::test::paraserve_bin() + " serve --port 0 --vad-dir " + kBehav + "/vad --model-dir " + kBehav +
          "/offline --online-model-dir " + kBehav + "/online --punc-dir " + kBehav + "/punc --lm-dir " +
          (*root_ / "nope").string() + " --global-beam 3 --lattice-beam 3 --am-scale 10 --fst-inc-wts 20",
      &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("--lm-dir"), std::string::npos) << out;
  EXPECT_EQ(out.find("not built"), std::string::npos) << out;
}

// `serve` end to end: the LM in the second pass and the client's per-utterance hotwords
// (`paraserve client --hotword FILE` sends them as FunASR's JSON-object string).
TEST_F(LmCli, ServeWithLmAndClientHotwords) {
  const std::string log = (*root_ / "serve.log").string(), pid = (*root_ / "serve.pid").string();
  const std::string serve = paraserve::test::paraserve_bin() + " serve --port 0 --listen-ip 127.0.0.1 --vad-dir " +
                            kBehav + "/vad --model-dir " + kBehav + "/offline --online-model-dir " + kBehav +
                            "/online --punc-dir " + kBehav + "/punc --quantize false --vad-quant false --punc-quant false" +
                            " --lm-dir " + lm().string() + " --am-scale 1.5";
  ASSERT_EQ(std::system(("(" + serve + " >" + log + " 2>&1 & echo $! >" + pid + ")").c_str()), 0);
  std::string port;
  for (int i = 0; i < 200 && port.empty(); ++i) {
    ::usleep(50 * 1000);
    const std::string l = slurp(log);
    const auto at = l.find("listening on ws://127.0.0.1:");
    if (at != std::string::npos) {
      const auto start = at + std::string("listening on ws://127.0.0.1:").size();
      port = l.substr(start, l.find_first_not_of("0123456789", start) - start);
    }
  }
  const std::string server_pid = slurp(pid);
  if (port.empty()) {
    std::system(("kill " + server_pid).c_str());
    FAIL() << "serve did not start: " << slurp(log);
  }
  auto client = [&](const std::string& flags) {
    int rc = 0;
    const std::string out = paraserve::test::run_shell(paraserve::test::paraserve_bin() + " client --fast --port " +
                                                           port + " " + flags + " " + kBehav + "/audio/one_sentence.wav",
                                                       &rc);
    EXPECT_EQ(rc, 0) << out;
    return out;
  };
  // Realtime punctuation (好 -> ，); the sentence's 界/们 is not followed by anything.
  const std::string plain = client("");
  const std::string hot = client("--hotword " + file("client_hw.txt", "世界 20\n"));
  std::system(("kill " + server_pid).c_str());
  EXPECT_NE(plain.find("one_sentence\t你好，世们\t"), std::string::npos) << plain;
  EXPECT_NE(hot.find("one_sentence\t你好，世界\t"), std::string::npos) << hot;
  EXPECT_NE(slurp(log).find("model lm: "), std::string::npos);
}

}  // namespace
