// AudioSplitter = FunASR's Audio::Split queueing rules (funasr-compat.md §2.5 step 3 and 7).
// Expected frames are derived by hand from those rules (1 ms = 16 samples, chunk 9600).
#include <gtest/gtest.h>

#include <vector>

#include "pipeline/audio_splitter.h"

namespace paraserve {
namespace {

struct Harness {
  AudioSplitter sp{AudioSplitterConfig{9600, 60000}};
  std::vector<SplitFrame> on, off;
  int64_t next = 0;  // value of the next sample (= its absolute index, for copy checks)
  // Pushes one 800-sample piece and applies `edges`; the frames of this piece stay readable
  // until the next piece (the session copies them out before trimming, like FunASR).
  void piece(std::vector<SplitEdge> edges = {}, Mode mode = Mode::kTwoPass) {
    sp.trim();
    std::vector<float> p(800);
    for (auto& v : p) v = static_cast<float>(next++);
    sp.push(p);
    on.clear();
    off.clear();
    sp.split(edges, mode, on, off);
  }
};

TEST(AudioSplitter, SilenceQueuesNothingAndKeepsTwoSeconds) {
  Harness h;
  for (int i = 0; i < 200; ++i) {
    h.piece();
    EXPECT_TRUE(h.on.empty());
    EXPECT_TRUE(h.off.empty());
  }
  h.sp.trim();
  EXPECT_EQ(h.sp.history_size(), 32000u);  // audio.cpp keeps 2 s outside speech
}

TEST(AudioSplitter, OneOnlineChunkPerPieceOnceEnoughSpeechIsBuffered) {
  Harness h;
  h.piece();
  h.piece();                   // 100 ms pushed
  h.piece({{100, -1}});        // start at 100 ms; 150 ms pushed: 50 ms buffered < 600
  EXPECT_TRUE(h.on.empty());
  EXPECT_EQ(h.sp.vad_start_ms(), 100);
  int pieces = 3;
  // The first chunk needs (50*N - 100) >= 600 ms -> N = 14 pieces.
  while (h.on.empty()) {
    h.piece();
    ++pieces;
  }
  EXPECT_EQ(pieces, 14);
  ASSERT_EQ(h.on.size(), 1u);
  EXPECT_EQ(h.on[0].first_sample, 1600);
  EXPECT_EQ(h.on[0].num_samples, 9600);
  EXPECT_EQ(h.on[0].global_start_ms, 100);
  EXPECT_FALSE(h.on[0].is_final);
  std::vector<float> buf;
  ASSERT_EQ(h.sp.copy(h.on[0], buf), 9600u);
  EXPECT_EQ(buf.front(), 1600.f);
  EXPECT_EQ(buf.back(), 1600.f + 9599.f);
  EXPECT_EQ(h.sp.speech_start_ms(), 700);
  // The next one 12 pieces later (600 ms more).
  int more = 0;
  do {
    h.piece();
    ++more;
  } while (h.on.empty());
  EXPECT_EQ(more, 12);
  EXPECT_EQ(h.on[0].global_start_ms, 700);
}

TEST(AudioSplitter, EndQueuesWholeSegmentOfflineAndRestOnlineInChunks) {
  Harness h;
  h.piece({{100, -1}});
  for (int i = 1; i < 14; ++i) h.piece();  // first chunk [100, 700) queued at piece 14
  ASSERT_EQ(h.sp.speech_start_ms(), 700);
  for (int i = 14; i < 37; ++i) h.piece();  // 1850 ms pushed; second chunk at piece 26
  ASSERT_EQ(h.sp.speech_start_ms(), 1300);
  h.piece({{-1, 1900}});  // rest = 1900 - 1300 = 600 ms = 9600 samples
  ASSERT_EQ(h.off.size(), 1u);
  EXPECT_EQ(h.off[0].first_sample, 1600);
  EXPECT_EQ(h.off[0].num_samples, (1900 - 100) * 16);
  EXPECT_EQ(h.off[0].global_start_ms, 100);
  // buff_len 9600: the first piece reaches buff_len-1 -> one final frame of 9600.
  ASSERT_EQ(h.on.size(), 1u);
  EXPECT_TRUE(h.on[0].is_final);
  EXPECT_EQ(h.on[0].num_samples, 9600);
  EXPECT_EQ(h.sp.vad_end_ms(), 1900);
  EXPECT_EQ(h.sp.speech_start_ms(), -1);
}

TEST(AudioSplitter, EndSplitsRemainderIntoChunkThenFinalTail) {
  Harness h;
  h.piece({{0, -1}});
  for (int i = 1; i < 20; ++i) h.piece();  // 1000 ms; chunk [0,600) queued at piece 12
  ASSERT_EQ(h.sp.speech_start_ms(), 600);
  for (int i = 20; i < 30; ++i) h.piece();
  // At 1500 ms: chunk [600,1200) was queued at piece 24 -> speech_start 1200.
  ASSERT_EQ(h.sp.speech_start_ms(), 1200);
  h.piece({{-1, 1201}});  // 1 ms left -> a single final frame of 16 samples
  ASSERT_EQ(h.on.size(), 1u);
  EXPECT_EQ(h.on[0].num_samples, 16);
  EXPECT_TRUE(h.on[0].is_final);
  // Now a remainder of 600 ms + 1 ms = 9616 samples: 9600 is not within one sample of the end.
  Harness g;
  g.piece({{0, -1}});
  for (int i = 1; i < 30; ++i) g.piece();
  g.piece({{-1, 1200 + 601}});
  ASSERT_EQ(g.on.size(), 2u);
  EXPECT_EQ(g.on[0].num_samples, 9600);
  EXPECT_FALSE(g.on[0].is_final);
  EXPECT_EQ(g.on[1].num_samples, 16);
  EXPECT_TRUE(g.on[1].is_final);
  EXPECT_EQ(g.on[1].global_start_ms, 1800);
}

TEST(AudioSplitter, EndAtChunkBoundaryQueuesEmptyFinalFrame) {
  Harness h;
  h.piece({{0, -1}});
  for (int i = 1; i < 13; ++i) h.piece();
  ASSERT_EQ(h.sp.speech_start_ms(), 600);
  h.piece({{-1, 600}});
  ASSERT_EQ(h.on.size(), 1u);
  EXPECT_EQ(h.on[0].num_samples, 0);
  EXPECT_TRUE(h.on[0].is_final);
}

TEST(AudioSplitter, StartAndEndInOneCallIsOneUnsplitFrame) {
  Harness h;
  for (int i = 0; i < 40; ++i) h.piece();
  h.piece({{200, 1950}});
  ASSERT_EQ(h.on.size(), 1u);
  EXPECT_TRUE(h.on[0].is_final);
  EXPECT_EQ(h.on[0].num_samples, 1750 * 16);  // longer than a chunk, still one frame
  ASSERT_EQ(h.off.size(), 1u);
  EXPECT_EQ(h.off[0].global_start_ms, 200);
  EXPECT_EQ(h.sp.vad_start_ms(), 200);
  EXPECT_EQ(h.sp.vad_end_ms(), 1950);
}

TEST(AudioSplitter, ModesSelectQueues) {
  for (Mode mode : {Mode::kOnline, Mode::kOffline}) {
    Harness h;
    h.piece({{0, -1}}, mode);
    for (int i = 1; i < 30; ++i) {
      h.piece({}, mode);
      if (mode == Mode::kOffline) {
        EXPECT_TRUE(h.on.empty());
      }
    }
    h.piece({{-1, 1400}}, mode);
    EXPECT_EQ(h.off.empty(), mode == Mode::kOnline);
    EXPECT_EQ(h.on.empty(), mode == Mode::kOffline);
  }
}

TEST(AudioSplitter, HistoryInsideSpeechKeepsTwoSecondsBeforeStart) {
  Harness h;
  for (int i = 0; i < 100; ++i) h.piece();  // 5 s of silence
  h.piece({{4000, -1}});
  for (int i = 0; i < 100; ++i) h.piece();
  h.sp.trim();
  // Nothing after 2 s before the segment start is dropped; the silence trimming had already
  // cut the history at 3000 ms (2 s before 5050), so it holds [3000, 10050) ms.
  EXPECT_EQ(h.sp.history_size(), static_cast<std::size_t>((10050 - 3000) * 16));
  h.piece({{-1, 10000}});
  std::vector<float> buf;
  ASSERT_EQ(h.off.size(), 1u);
  ASSERT_EQ(h.sp.copy(h.off[0], buf), static_cast<std::size_t>(6000 * 16));
  EXPECT_EQ(buf.front(), 4000.f * 16);
  h.sp.trim();
  EXPECT_EQ(h.sp.history_size(), 32000u);  // back to 2 s after the segment
}

TEST(AudioSplitter, HistoryIsBoundedWhenSpeechNeverEnds) {
  Harness h;
  h.piece({{0, -1}});
  for (int i = 0; i < 72000; ++i) h.piece();  // one hour, no end
  const std::size_t bound = static_cast<std::size_t>((60000 + 5000) * 16 + 9600);
  EXPECT_EQ(h.sp.history_size(), bound);  // full, oldest audio dropped
  // Blocks in use cover the history (plus one partly used block and the spares).
  const std::size_t block_bytes = AudioSplitter::kBlockSamples * sizeof(float);
  EXPECT_LE(h.sp.state_bytes(), bound * sizeof(float) + (AudioSplitter::kSpareBlocks + 2) * block_bytes);
}

TEST(AudioSplitter, HistoryMemoryFollowsTheSegmentNotTheBound) {
  Harness h;
  const std::size_t block_bytes = AudioSplitter::kBlockSamples * sizeof(float);
  for (int i = 0; i < 100; ++i) h.piece();  // 5 s of silence: 2 s kept
  h.sp.trim();
  const std::size_t quiet = h.sp.state_bytes();
  // 2 s (32000 samples) in 8000-sample blocks: at most 5 blocks in use, plus the spares.
  EXPECT_LE(quiet, (5 + AudioSplitter::kSpareBlocks) * block_bytes + 4096);
  h.piece({{5000, -1}});
  for (int i = 0; i < 400; ++i) h.piece();  // a 20 s segment
  h.sp.trim();
  EXPECT_GE(h.sp.state_bytes(), h.sp.history_size() * sizeof(float));
  EXPECT_GT(h.sp.state_bytes(), 20u * 16000 * sizeof(float));
  h.piece({{-1, 25000}});
  h.sp.trim();
  // After the segment the memory goes back to the quiet level (emptied blocks are freed but
  // for the spares): 2 s in use plus the spares.
  EXPECT_LE(h.sp.state_bytes(), (5 + AudioSplitter::kSpareBlocks) * block_bytes + 4096);
  h.sp.reset();
  EXPECT_LE(h.sp.state_bytes(), AudioSplitter::kSpareBlocks * block_bytes + 4096);
}

TEST(AudioSplitter, ResetRestartsTheTimeAxis) {
  Harness h;
  h.piece({{0, -1}});
  for (int i = 0; i < 20; ++i) h.piece();
  h.sp.reset();
  EXPECT_EQ(h.sp.total_samples(), 0);
  EXPECT_EQ(h.sp.history_size(), 0u);
  EXPECT_EQ(h.sp.speech_start_ms(), -1);
  EXPECT_EQ(h.sp.vad_start_ms(), -1);
}

}  // namespace
}  // namespace paraserve
