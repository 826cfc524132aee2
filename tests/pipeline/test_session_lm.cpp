// The 2pass session's offline pass with the n-gram LM and hotwords (the path `serve` takes):
// per-utterance client hotwords (SessionOptions::hotwords, FunASR's JSON-object string),
// merged with the server hotword file, client entries winning. Test LM from
// tools/modelgen/lm/make_lm.py (every word 2, "们" 1, "界" 40) in a temporary directory;
// am-scale 1.5 makes the LM turn "你好世界" into "你好世们" (docs/test-models.md).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "../models_required.h"
#include "behav_util.h"
#include "pipeline/engine.h"
#include "pipeline/session.h"

namespace paraserve {
namespace {

namespace fs = std::filesystem;
using testing::behav_dir;

class SessionLm : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(fs::temp_directory_path() / ("paraserve-session-lm-" + std::to_string(::getpid())));
    fs::remove_all(*root_);
    fs::create_directories(*root_);
    if (!fs::exists(behav_dir() + "/online/tokens.json")) return;
    const std::string cmd = "/usr/bin/python3 " PARASERVE_SOURCE_DIR "/tools/modelgen/lm/make_lm.py --tokens " +
                            behav_dir() + "/online/tokens.json --out " + (*root_ / "lm").string() + " >/dev/null 2>&1";
    const int st = std::system(cmd.c_str());
    gen_rc_ = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }
  static void TearDownTestSuite() {
    fs::remove_all(*root_);
    delete root_;
  }
  void SetUp() override {
    if (!fs::exists(behav_dir() + "/behaviour.json"))
      PARASERVE_MODELS_MISSING("models/behav not generated (scripts/make-models.sh behav)");
    ASSERT_EQ(gen_rc_, 0) << "tools/modelgen/lm/make_lm.py failed (needs python3 and libfst-tools)";
  }
  static EngineConfig config(bool with_lm, const std::string& hotword_lines = "") {
    EngineConfig c = testing::behav_engine_config();
    if (with_lm) {
      c.lm_dir = (*root_ / "lm").string();
      c.am_scale = 1.5f;
    }
    if (!hotword_lines.empty()) {
      c.hotword_file = (*root_ / ("hw" + std::to_string(++files_) + ".txt")).string();
      std::ofstream(c.hotword_file) << hotword_lines;
    }
    return c;
  }
  // The offline (second-pass) texts of one_sentence.wav, joined.
  static std::string offline_text(std::shared_ptr<const Engine> engine, const std::string& hotwords) {
    const auto pcm = testing::read_wav_s16(behav_dir() + "/audio/one_sentence.wav");
    SessionOptions o;
    o.sample_rate = pcm.sample_rate;
    o.hotwords = hotwords;
    StreamSession s(std::move(engine), o);
    std::vector<StreamResult> results;
    for (std::size_t pos = 0; pos < pcm.samples.size(); pos += 960)
      s.feed(std::span<const int16_t>(pcm.samples.data() + pos, std::min<std::size_t>(960, pcm.samples.size() - pos)),
             results);
    s.finish(results);
    std::string text;
    for (const auto& r : results) text += r.offline_text;
    return text;
  }
  static std::string punctuated(const std::string& raw) {
    std::vector<std::string> cache;
    return testing::expected_realtime_punc(raw, cache);
  }
  static inline fs::path* root_ = nullptr;
  static inline int gen_rc_ = -1;
  static inline int files_ = 0;
};

TEST_F(SessionLm, ClientHotwordsBiasTheSecondPass) {
  const auto engine = load_engine(config(true));
  EXPECT_EQ(offline_text(engine, ""), punctuated("你好世们"));
  EXPECT_EQ(offline_text(engine, R"({"世界": 20})"), punctuated("你好世界"));
  // FunASR: one non-numeric weight loses the whole object; a non-JSON string (NN hotwords)
  // is ignored. Neither is fatal.
  EXPECT_EQ(offline_text(engine, R"({"世界": "20", "今天": 5})"), punctuated("你好世们"));
  EXPECT_EQ(offline_text(engine, "世界"), punctuated("你好世们"));
  // Hotwords are per session: the next one without them is unbiased again.
  EXPECT_EQ(offline_text(engine, ""), punctuated("你好世们"));
}

TEST_F(SessionLm, ServerHotwordsMergeWithClientWinning) {
  // --fst-inc-wts 0: only completion weights count. "世界" is restored when 40 - w < 31 + 0,
  // i.e. w > 9 (and "世世" at 32 never wins).
  EngineConfig weak = config(true, "世界 5\n");
  weak.fst_inc_wts = 0;
  const auto engine = load_engine(weak);
  EXPECT_EQ(offline_text(engine, ""), punctuated("你好世们"));
  EXPECT_EQ(offline_text(engine, R"({"世界": 15})"), punctuated("你好世界"));  // client replaces 5
  EXPECT_EQ(offline_text(engine, R"({"今天": 20})"), punctuated("你好世们"));  // server's 5 kept
  EngineConfig strong = config(true, "世界 15\n");
  strong.fst_inc_wts = 0;
  const auto helpful = load_engine(strong);
  EXPECT_EQ(offline_text(helpful, ""), punctuated("你好世界"));
  EXPECT_EQ(offline_text(helpful, R"({"今天": 20})"), punctuated("你好世界"));  // merged
  EXPECT_EQ(offline_text(helpful, R"({"世界": 5})"), punctuated("你好世们"));   // client wins
}

TEST_F(SessionLm, WithoutLmHotwordsHaveNoEffect) {
  const auto engine = load_engine(config(false, "世界 20\n"));
  EXPECT_EQ(offline_text(engine, R"({"世界": 20, "你好": 50})"), punctuated("你好世界"));
  const auto w = load_warnings(*engine);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("no effect without --lm-dir"), std::string::npos) << w[0];
}

TEST_F(SessionLm, LmNeedsTheOfflineModel) {
  EngineConfig c = config(true);
  c.offline_model_dir.clear();
  try {
    load_engine(c);
    FAIL() << "no error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("--lm-dir"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace paraserve
