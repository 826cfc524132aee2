// OfflinePuncStream (offline punctuation of a text that arrives in pieces) against
// Punctuator::punctuate_offline over the whole text, with a context-dependent fake model.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "decode/offline_punc_stream.h"
#include "decode/punctuator.h"

namespace paraserve {
namespace {

const std::vector<std::string> kPuncList = {"<unk>", "_", "，", "。", "？", "、"};

// The class of a token depends on its id, its position and the window length (as a real
// model's output depends on the context), so a window cut differently gives other marks.
// `period_every` controls how often 。 is the argmax (0: never).
struct HashRunner : PuncRunner {
  int period_every = 12;
  int comma_every = 7;
  void run(std::span<const int32_t> ids, const float*, std::vector<float>& logits) const override {
    const std::size_t L = ids.size();
    logits.assign(L * 6, 0.0f);
    for (std::size_t i = 0; i < L; ++i) {
      std::uint32_t h = static_cast<std::uint32_t>(ids[i]) * 2654435761u ^ static_cast<std::uint32_t>(i * 40503u + L * 977u);
      h ^= h >> 13;
      h *= 0x5bd1e995u;
      h ^= h >> 15;
      int cls = 1;
      if (period_every > 0 && h % static_cast<std::uint32_t>(period_every) == 0) cls = 3;
      else if (comma_every > 0 && (h >> 8) % static_cast<std::uint32_t>(comma_every) == 0) cls = 2;
      else if ((h >> 16) % 29 == 0) cls = 4;
      else if ((h >> 20) % 41 == 0) cls = 0;
      logits[i * 6 + static_cast<std::size_t>(cls)] = 1.0f;
    }
  }
  int num_classes() const override { return 6; }
};

std::vector<std::string> vocab() {
  std::vector<std::string> v = {"<blank>", "<s>", "</s>", "hello", "world", "ok", "server", "a", "b"};
  for (int k = 0; k < 60; ++k) {
    const int cp = 0x4E00 + k;
    std::string s;
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
    v.push_back(s);
  }
  v.push_back("<unk>");
  return v;
}

// Segment-like texts: CJK characters and ASCII words (English words space-separated inside
// a segment, as the timestamp decoder writes them), sometimes starting or ending in ASCII.
std::vector<std::string> random_pieces(std::mt19937& rng, int n_pieces) {
  const std::vector<std::string> v = vocab();
  std::vector<std::string> pieces;
  for (int p = 0; p < n_pieces; ++p) {
    std::string s;
    const int words = static_cast<int>(rng() % 12);  // empty segments too
    bool prev_ascii = false;
    for (int w = 0; w < words; ++w) {
      const bool ascii = rng() % 4 == 0;
      if (ascii) {
        if (prev_ascii) s += ' ';
        s += v[3 + rng() % 6];
      } else {
        s += v[9 + rng() % 60];
      }
      prev_ascii = ascii;
    }
    pieces.push_back(s);
  }
  return pieces;
}

std::string streamed(const Punctuator& p, const std::vector<std::string>& pieces) {
  OfflinePuncStream s(p);
  std::string out;
  for (const auto& piece : pieces) s.add(piece, out);
  s.finish(out);
  return out;
}

std::string joined(const std::vector<std::string>& pieces) {
  std::string t;
  for (const auto& p : pieces) t += p;
  return t;
}

TEST(OfflinePuncStream, EqualsWholeTextPunctuation) {
  HashRunner runner;
  const auto v = vocab();
  Punctuator punc(runner, v, kPuncList);
  std::mt19937 rng(7);
  for (int trial = 0; trial < 300; ++trial) {
    const auto pieces = random_pieces(rng, 1 + static_cast<int>(rng() % 40));
    ASSERT_EQ(streamed(punc, pieces), punc.punctuate_offline(joined(pieces))) << "trial " << trial;
  }
}

TEST(OfflinePuncStream, AsciiRunsJoinAcrossPieces) {
  // FunASR concatenates segment texts: "hello" + "world" is one token "helloworld" (<unk>).
  HashRunner runner;
  const auto v = vocab();
  Punctuator punc(runner, v, kPuncList);
  const std::vector<std::string> pieces = {"hel", "lo", "world", "", "ok a"};
  EXPECT_EQ(streamed(punc, pieces), punc.punctuate_offline("helloworldok a"));
  EXPECT_EQ(streamed(punc, pieces).rfind("helloworldok", 0), 0u);
}

TEST(OfflinePuncStream, LongRunsWithoutSentenceEndsMatchUpToTheCarryLimit) {
  // Windows that keep nothing (no 。/？) carry everything; past 200 words the last comma
  // ends the sentence (FunASR's CACHE_POP_TRIGGER_LIMIT).
  HashRunner runner;
  runner.period_every = 0;
  runner.comma_every = 50;
  const auto v = vocab();
  Punctuator punc(runner, v, kPuncList);
  std::mt19937 rng(11);
  for (int trial = 0; trial < 20; ++trial) {
    const auto pieces = random_pieces(rng, 60);
    ASSERT_EQ(streamed(punc, pieces), punc.punctuate_offline(joined(pieces))) << "trial " << trial;
  }
}

TEST(OfflinePuncStream, OutputIsIncrementalAndStateBounded) {
  HashRunner runner;
  const auto v = vocab();
  Punctuator punc(runner, v, kPuncList);
  std::mt19937 rng(3);
  OfflinePuncStream s(punc);
  std::string out;
  std::size_t max_state = 0;
  std::size_t state_after_warmup = 0;
  for (int k = 0; k < 4000; ++k) {
    const auto piece = random_pieces(rng, 1);
    s.add(piece[0], out);
    if (k == 200) {
      EXPECT_GT(out.size(), 0u);  // text is written long before the end
      state_after_warmup = s.state_bytes();
    }
    if (k > 200) max_state = std::max(max_state, s.state_bytes());
    out.clear();
  }
  // 20 times more text, no more than a few KB more state.
  EXPECT_LT(max_state, state_after_warmup + 16384);
}

TEST(OfflinePuncStream, ModelWithoutAnyMarksKeepsTheCarryBounded) {
  // A degenerate model (never 。/？/，): FunASR's carry would hold the whole text; the stream
  // keeps a window whole once its carry would pass kMaxCarry words.
  HashRunner runner;
  runner.period_every = 0;
  runner.comma_every = 0;
  const auto v = vocab();
  Punctuator punc(runner, v, kPuncList);
  OfflinePuncStream s(punc);
  std::string out;
  for (int k = 0; k < 5000; ++k) s.add(v[9 + static_cast<std::size_t>(k % 60)], out);
  EXPECT_GT(out.size(), 0u);
  EXPECT_LT(s.state_bytes(), 256u * 1024u);
}

}  // namespace
}  // namespace paraserve
