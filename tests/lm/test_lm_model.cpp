// Loading a FunASR LM directory (src/lm/lm_model.*) written by the test-LM generator
// (tools/modelgen/lm/make_lm.py, run here into a temporary directory), loading errors, and
// the generated graph's behaviour on hand-made posteriors.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "lm/hotwords.h"
#include "lm/lm_model.h"
#include "lm/wfst_search.h"

namespace paraserve::lm {
namespace {

namespace fs = std::filesystem;

// The behavioural models' vocabulary (models/behav/online/tokens.json).
const std::vector<std::string> kTokens = {"<blank>", "<s>", "</s>", "你", "好", "世", "界", "今", "天", "气",
                                          "很", "我", "们", "是", "吗", "hello", "world", "ser@@", "ver", "<unk>"};

int sh(const std::string& cmd) {
  const int st = std::system(cmd.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

class LmDir : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(fs::temp_directory_path() / ("paraserve-lm-" + std::to_string(::getpid())));
    fs::remove_all(*root_);
    fs::create_directories(*root_);
    std::ofstream t(*root_ / "tokens.json");
    t << "[";
    for (std::size_t i = 0; i < kTokens.size(); ++i) t << (i ? "," : "") << "\"" << kTokens[i] << "\"";
    t << "]";
    t.close();
    gen_rc_ = sh("/usr/bin/python3 " PARASERVE_SOURCE_DIR "/tools/modelgen/lm/make_lm.py --tokens " +
                 (*root_ / "tokens.json").string() + " --out " + (*root_ / "lm").string() + " >/dev/null");
  }
  static void TearDownTestSuite() {
    fs::remove_all(*root_);
    delete root_;
  }
  void SetUp() override { ASSERT_EQ(gen_rc_, 0) << "tools/modelgen/lm/make_lm.py failed (needs libfst-tools)"; }
  static fs::path dir() { return *root_ / "lm"; }
  // A copy of the generated dir to break.
  static fs::path copy(const std::string& name) {
    const fs::path d = *root_ / name;
    fs::remove_all(d);
    fs::copy(dir(), d);
    return d;
  }
  static std::string load_error(const fs::path& d) {
    try {
      LmModel::load(d.string());
    } catch (const std::exception& e) {
      return e.what();
    }
    return "";
  }
  static inline fs::path* root_ = nullptr;
  static inline int gen_rc_ = -1;
};

// Rows of log-softmax(20 * one_hot(token)), as the behavioural offline model.
std::vector<float> peaked(const std::vector<std::string>& toks) {
  const int v = static_cast<int>(kTokens.size());
  const float lse = std::log(std::exp(20.0f) + static_cast<float>(v - 1));
  std::vector<float> out;
  for (const auto& t : toks) {
    const auto id = std::find(kTokens.begin(), kTokens.end(), t) - kTokens.begin();
    for (int k = 0; k < v; ++k) out.push_back((k == id ? 20.0f : 0.0f) - lse);
  }
  return out;
}

std::string text_of(const LmModel& m, const std::vector<int>& words) {
  std::string s;
  for (int w : words) s += m.words.at(static_cast<std::size_t>(w)) + "|";
  return s;
}

TEST_F(LmDir, LoadsFunAsrLayout) {
  const auto m = LmModel::load(dir().string());
  EXPECT_EQ(m->words.front(), "<eps>");
  EXPECT_EQ(m->words.back(), "</s>");
  EXPECT_EQ(m->lexicon.at("server"), "ser@@ ver");
  EXPECT_EQ(m->graph_type, "vector");
  EXPECT_FALSE(m->mapped);
  EXPECT_NE(m->describe().find("TLG.fst (vector -> const"), std::string::npos) << m->describe();
}

TEST_F(LmDir, GeneratedGraphHasThePredictableEffect) {
  const auto m = LmModel::load(dir().string());
  WfstSearch s;
  std::vector<int> w;
  const auto logp = peaked({"你", "好", "世", "界"});
  SearchOptions o;  // am-scale 10: the 200-nat acoustic margin wins over the LM
  ASSERT_TRUE(s.decode(*m->graph, logp.data(), 4, static_cast<int>(kTokens.size()), o, nullptr, w));
  EXPECT_EQ(text_of(*m, w), "你|好|世|界|");
  // am-scale 1.5, margin 30: "界" (cost 40) loses to "们" (30 + 1). (At exactly 1.0 the
  // margin, 20, equals the default per-token hotword bonus, and ties decide.)
  o.am_scale = 1.5f;
  ASSERT_TRUE(s.decode(*m->graph, logp.data(), 4, static_cast<int>(kTokens.size()), o, nullptr, w));
  EXPECT_EQ(text_of(*m, w), "你|好|世|们|");
  // The hotword "世界" restores it: 2 + 40 - (20 + 20 + 20) < 2 + 31 (+20 - 20 for 世).
  std::vector<std::string> problems;
  auto bias = compile_hotwords({{"世界", 20}}, *m, kTokens, 20.0f, problems);
  ASSERT_NE(bias, nullptr);
  EXPECT_TRUE(problems.empty());
  ASSERT_TRUE(s.decode(*m->graph, logp.data(), 4, static_cast<int>(kTokens.size()), o, bias.get(), w));
  EXPECT_EQ(text_of(*m, w), "你|好|世|界|");
  // Without the per-token increment only the weight counts: 40 - w < 31 needs w > 9.
  bias = compile_hotwords({{"世界", 5}}, *m, kTokens, 0.0f, problems);
  ASSERT_TRUE(s.decode(*m->graph, logp.data(), 4, static_cast<int>(kTokens.size()), o, bias.get(), w));
  EXPECT_EQ(text_of(*m, w), "你|好|世|们|");
  bias = compile_hotwords({{"世界", 15}}, *m, kTokens, 0.0f, problems);
  ASSERT_TRUE(s.decode(*m->graph, logp.data(), 4, static_cast<int>(kTokens.size()), o, bias.get(), w));
  EXPECT_EQ(text_of(*m, w), "你|好|世|界|");
  // Repeated tokens and the two-token word "server".
  const auto l2 = peaked({"我", "们", "是", "ser@@", "ver", "吗", "天", "天"});
  ASSERT_TRUE(s.decode(*m->graph, l2.data(), 8, static_cast<int>(kTokens.size()), {}, nullptr, w));
  EXPECT_EQ(text_of(*m, w), "我|们|是|server|吗|天|天|");
}

TEST_F(LmDir, ConstGraphIsMemoryMappedAndDecodesTheSame) {
  const fs::path d = copy("const");
  ASSERT_EQ(sh("fstconvert --fst_type=const --fst_align " + (dir() / "TLG.fst").string() + " " +
               (d / "TLG.fst").string()),
            0);
  const auto v = LmModel::load(dir().string());
  const auto c = LmModel::load(d.string());
  EXPECT_EQ(c->graph_type, "const");
  EXPECT_TRUE(c->mapped);
  {  // really mapped: the file shows up in this process's mappings
    std::ifstream maps("/proc/self/maps");
    std::stringstream ss;
    ss << maps.rdbuf();
    EXPECT_NE(ss.str().find((d / "TLG.fst").string()), std::string::npos);
    EXPECT_EQ(ss.str().find((dir() / "TLG.fst").string()), std::string::npos);  // the vector one is read
  }
  SearchOptions o;
  o.am_scale = 1.0f;
  const auto logp = peaked({"今", "天", "气", "很", "好", "世", "界"});
  WfstSearch s;
  std::vector<int> a, b;
  ASSERT_TRUE(s.decode(*v->graph, logp.data(), 7, static_cast<int>(kTokens.size()), o, nullptr, a));
  ASSERT_TRUE(s.decode(*c->graph, logp.data(), 7, static_cast<int>(kTokens.size()), o, nullptr, b));
  EXPECT_EQ(a, b);
}

TEST_F(LmDir, MissingFilesAreNamed) {
  for (const char* f : {"TLG.fst", "config.yaml", "lexicon.txt"}) {
    const fs::path d = copy(std::string("missing-") + f);
    fs::remove(d / f);
    const std::string err = load_error(d);
    EXPECT_NE(err.find((d / f).string()), std::string::npos) << f << ": " << err;
  }
}

TEST_F(LmDir, CorruptFilesAreNamed) {
  {
    const fs::path d = copy("garbage");
    std::ofstream(d / "TLG.fst", std::ios::trunc) << "this is not an fst";
    const std::string err = load_error(d);
    EXPECT_NE(err.find((d / "TLG.fst").string()), std::string::npos) << err;
  }
  {
    const fs::path d = copy("truncated");
    fs::resize_file(d / "TLG.fst", fs::file_size(d / "TLG.fst") / 2);
    const std::string err = load_error(d);
    EXPECT_NE(err.find((d / "TLG.fst").string()), std::string::npos) << err;
  }
  {
    const fs::path d = copy("noconfig");
    std::ofstream(d / "config.yaml", std::ios::trunc) << "other: [1, 2]\n";
    const std::string err = load_error(d);
    EXPECT_NE(err.find("token_list"), std::string::npos) << err;
    EXPECT_NE(err.find((d / "config.yaml").string()), std::string::npos) << err;
  }
  {
    const fs::path d = copy("badyaml");
    std::ofstream(d / "config.yaml", std::ios::trunc) << "token_list: [\n";
    EXPECT_NE(load_error(d).find((d / "config.yaml").string()), std::string::npos);
  }
  {
    const fs::path d = copy("logarc");
    ASSERT_EQ(sh("fstarcsort " + (dir() / "TLG.fst").string() + " | fstmap --map_type=to_log > " +
                 (d / "TLG.fst").string()),
              0);
    const std::string err = load_error(d);
    EXPECT_NE(err.find("arc type"), std::string::npos) << err;
  }
  EXPECT_NE(load_error(*root_ / "no-such-dir").find("no-such-dir"), std::string::npos);
}

}  // namespace
}  // namespace paraserve::lm
