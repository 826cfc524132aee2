// E2E VAD state machine with synthetic probability sequences. Expected edges are derived by
// hand from FunASR's rules with the default options (window 20 frames, speech when >= 15 of
// them are speech; start = detection frame - 40; end after 65 smoothed-silence frames at
// detection frame - 54, reported as (end_frame + 1) * 10 ms):
//  * speech from frame S (after >= 40 frames of silence): detected at S+14, start_ms = (S-26)*10;
//  * speech ending before frame E: smoothed silence from E+4, end detected at E+69,
//    end_ms = (E+16)*10.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <utility>
#include <vector>

#include "common/error.h"
#include "pipeline/e2e_vad.h"

namespace paraserve {
namespace {

constexpr int kPdfs = 3;
constexpr float kSpeechP0 = 0.05f;  // silence-pdf probability in a speech frame
constexpr float kSilP0 = 0.95f;

// Frame-level truth: true = speech.
std::vector<bool> frames(int total, std::vector<std::pair<int, int>> speech /* [from, to) */) {
  std::vector<bool> f(static_cast<std::size_t>(total), false);
  for (auto [a, b] : speech)
    for (int t = a; t < b; ++t) f[static_cast<std::size_t>(t)] = true;
  return f;
}

std::vector<float> probs_of(const std::vector<bool>& f, int from, int to) {
  std::vector<float> p;
  for (int t = from; t < to; ++t) {
    const float p0 = f[static_cast<std::size_t>(t)] ? kSpeechP0 : kSilP0;
    p.push_back(p0);
    for (int k = 1; k < kPdfs; ++k) p.push_back((1.0f - p0) / (kPdfs - 1));
  }
  return p;
}

VadOptions config_opts(int max_segment_ms = 60000) {
  VadOptions o;  // the four config.yaml values of FunASR's template
  o.max_end_silence_time = 800;
  o.max_single_segment_time = max_segment_ms;
  o.speech_noise_thres = 0.6f;
  return o;
}

struct Emission {
  int after_frame;  // last frame index of the call that reported the edge
  VadSegmentEdge edge;
};

// Feeds `f` in calls of `step` frames; the last call is final iff `final_call`.
std::vector<Emission> run(E2eVad& vad, const std::vector<bool>& f, int step, bool final_call) {
  std::vector<Emission> got;
  std::vector<VadSegmentEdge> out;
  const int total = static_cast<int>(f.size());
  for (int t = 0; t < total; t += step) {
    const int n = std::min(step, total - t);
    auto p = probs_of(f, t, t + n);
    out.clear();
    vad.accept(p.data(), n, kPdfs, {}, final_call && t + n == total, out);
    for (auto& e : out) got.push_back({t + n - 1, e});
  }
  return got;
}

std::vector<VadSegmentEdge> edges(const std::vector<Emission>& em) {
  std::vector<VadSegmentEdge> e;
  for (auto& x : em) e.push_back(x.edge);
  return e;
}

TEST(E2eVad, OneUtteranceFrameByFrame) {
  E2eVad vad(config_opts());
  auto em = run(vad, frames(400, {{100, 200}}), 1, false);
  ASSERT_EQ(em.size(), 2u);
  EXPECT_EQ(em[0].after_frame, 114);  // 15th speech frame in the window
  EXPECT_EQ(em[0].edge, (VadSegmentEdge{740, -1}));
  EXPECT_EQ(em[1].after_frame, 269);  // 65th smoothed-silence frame
  EXPECT_EQ(em[1].edge, (VadSegmentEdge{-1, 2160}));
}

TEST(E2eVad, WholeSegmentInOneCallIsOneEdge) {
  E2eVad vad(config_opts());
  auto em = run(vad, frames(400, {{100, 200}}), 400, false);
  ASSERT_EQ(em.size(), 1u);
  EXPECT_EQ(em[0].edge, (VadSegmentEdge{740, 2160}));
}

TEST(E2eVad, StartLookbackIsClippedAtStreamStart) {
  E2eVad vad(config_opts());
  auto e = edges(run(vad, frames(300, {{5, 100}}), 5, false));
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0], (VadSegmentEdge{0, -1}));
  EXPECT_EQ(e[1], (VadSegmentEdge{-1, 1160}));
}

TEST(E2eVad, PauseOf55FramesKeepsOneSegmentAnd56Splits) {
  {
    E2eVad vad(config_opts());
    auto e = edges(run(vad, frames(600, {{100, 200}, {255, 350}}), 7, false));
    ASSERT_EQ(e.size(), 2u);
    EXPECT_EQ(e[0], (VadSegmentEdge{740, -1}));
    EXPECT_EQ(e[1], (VadSegmentEdge{-1, 3660}));
  }
  {
    // End detected at 269 (= 200+56+13), window cleared; speech frames 270.. are needed
    // again: detection at 284, start = max(last silence confirmation 243, 284-40) = 244.
    E2eVad vad(config_opts());
    auto e = edges(run(vad, frames(600, {{100, 200}, {256, 350}}), 1, false));
    ASSERT_EQ(e.size(), 4u);
    EXPECT_EQ(e[0], (VadSegmentEdge{740, -1}));
    EXPECT_EQ(e[1], (VadSegmentEdge{-1, 2160}));
    EXPECT_EQ(e[2], (VadSegmentEdge{2440, -1}));
    EXPECT_EQ(e[3], (VadSegmentEdge{-1, 3660}));
  }
}

TEST(E2eVad, MaxSingleSegmentTimeCutsContiguousSegments) {
  E2eVad vad(config_opts(1000));  // 100 frames
  auto e = edges(run(vad, frames(700, {{100, 500}}), 700, false));
  // cut when cur - start + 1 > 100, end_ms = (cur + 1) * 10; the next start is the frame
  // after the cut (the lookback cannot go behind it).
  std::vector<VadSegmentEdge> want = {{740, 1750}, {1750, 2760}, {2760, 3770}, {3770, 4780}, {4780, 5160}};
  EXPECT_EQ(e, want);
}

TEST(E2eVad, FinalCallEndsSpeechAtLastFrame) {
  {
    E2eVad vad(config_opts());
    auto e = edges(run(vad, frames(181, {{100, 181}}), 5, true));
    ASSERT_EQ(e.size(), 2u);
    EXPECT_EQ(e[1], (VadSegmentEdge{-1, 1810}));
  }
  {
    // In the trailing silence before the end is confirmed: the segment ends at the last frame.
    E2eVad vad(config_opts());
    auto e = edges(run(vad, frames(230, {{100, 200}}), 230, true));
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0], (VadSegmentEdge{740, 2300}));
  }
  {
    // Speech detected on the very last frame: FunASR reports the start only.
    E2eVad vad(config_opts());
    auto e = edges(run(vad, frames(115, {{100, 115}}), 115, true));
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0], (VadSegmentEdge{740, -1}));
  }
  {
    E2eVad vad(config_opts());
    EXPECT_TRUE(edges(run(vad, frames(300, {}), 50, true)).empty());
  }
}

TEST(E2eVad, FinalCallAndResetBehaveLikeANewObject) {
  const auto a = frames(500, {{30, 120}, {250, 420}});
  const auto b = frames(400, {{100, 200}});
  E2eVad fresh(config_opts());
  const auto want = edges(run(fresh, b, 3, true));
  ASSERT_FALSE(want.empty());

  E2eVad after_final(config_opts());
  run(after_final, a, 4, true);
  EXPECT_EQ(edges(run(after_final, b, 3, true)), want);

  E2eVad after_reset(config_opts());
  run(after_reset, a, 4, false);  // left inside the second segment
  after_reset.reset();
  EXPECT_EQ(edges(run(after_reset, b, 3, true)), want);
}

TEST(E2eVad, EdgesDoNotDependOnCallSizes) {
  std::mt19937 rng(7);
  std::vector<std::pair<int, int>> speech;
  for (int t = 50; t < 3000;) {
    int len = 10 + static_cast<int>(rng() % 300);
    speech.push_back({t, std::min(3000, t + len)});
    t += len + 5 + static_cast<int>(rng() % 150);
  }
  const auto f = frames(3200, speech);
  auto pairs = [](const std::vector<VadSegmentEdge>& e) {  // join [s,-1] + [-1,e]
    std::vector<std::pair<int64_t, int64_t>> p;
    for (auto& x : e) {
      if (x.start_ms >= 0) p.push_back({x.start_ms, -1});
      if (x.end_ms >= 0) p.back().second = x.end_ms;
    }
    return p;
  };
  E2eVad one(config_opts(3000));
  const auto want = pairs(edges(run(one, f, 3200, true)));
  ASSERT_GT(want.size(), 3u);
  for (int step : {1, 5, 17, 100}) {
    E2eVad v(config_opts(3000));
    EXPECT_EQ(pairs(edges(run(v, f, step, true))), want) << "step " << step;
  }
  // The offline form reports the same segments.
  auto p = probs_of(f, 0, 3200);
  EXPECT_EQ(E2eVad::offline(config_opts(3000), p.data(), 3200, kPdfs, {}), want);
}

TEST(E2eVad, OfflineReportsOpenSegmentWithItsRunningEnd) {
  const auto f = frames(115, {{100, 115}});
  auto p = probs_of(f, 0, 115);
  auto seg = E2eVad::offline(config_opts(), p.data(), 115, kPdfs, {});
  ASSERT_EQ(seg.size(), 1u);
  EXPECT_EQ(seg[0], (std::pair<int64_t, int64_t>{740, 1150}));
}

TEST(E2eVad, SpeechNoiseThresholdDecidesFrames) {
  // speech iff (1 - p0) >= p0 + thres; with thres 0.6 the boundary is p0 = 0.2.
  for (auto [p0, speech] : {std::pair{0.19f, true}, std::pair{0.21f, false}}) {
    std::vector<float> p;
    for (int t = 0; t < 300; ++t) {
      const float q = t >= 100 && t < 200 ? p0 : kSilP0;
      p.insert(p.end(), {q, 1.0f - q});
    }
    auto seg = E2eVad::offline(config_opts(), p.data(), 300, 2, {});
    EXPECT_EQ(seg.size(), speech ? 1u : 0u) << p0;
  }
}

TEST(E2eVad, DecibelGateSilencesQuietFrames) {
  auto opts = config_opts();
  opts.decibel_thres = -30.0f;
  const auto f = frames(400, {{100, 200}});
  auto p = probs_of(f, 0, 400);
  std::vector<float> loud(400, -10.0f), quiet(400, -50.0f);
  EXPECT_EQ(E2eVad::offline(opts, p.data(), 400, kPdfs, loud).size(), 1u);
  EXPECT_TRUE(E2eVad::offline(opts, p.data(), 400, kPdfs, quiet).empty());
  // FunASR's own thresholds (-100 dB) never gate a [-1,1) wave (>= -60 dB).
  std::vector<float> silent_wave(400, -60.0f);
  EXPECT_EQ(E2eVad::offline(config_opts(), p.data(), 400, kPdfs, silent_wave).size(), 1u);
}

TEST(E2eVad, FrameDecibel) {
  std::vector<float> half(400, 0.5f), zero(400, 0.0f);
  EXPECT_NEAR(frame_decibel(half.data(), 400), 20.0f, 1e-4);  // 10*log10(400*0.25)
  EXPECT_NEAR(frame_decibel(zero.data(), 400), -60.0f, 1e-4);
  std::vector<float> out;
  frame_decibels(std::vector<float>(1000, 0.5f), 400, 160, out);
  EXPECT_EQ(out.size(), 4u);  // (1000-400)/160 + 1
}

TEST(E2eVad, StateIsBoundedOverOneHourOfAlternatingSpeech) {
  // 1 h = 360000 frames: 3 s speech / 2 s silence, fed in 50 ms calls (5 frames).
  E2eVad vad(config_opts());
  const int cycle = 500, speech_len = 300;
  std::vector<float> p;
  std::vector<VadSegmentEdge> out, all;
  std::size_t max_bytes = 0, bytes_after_first_minute = 0;
  for (int t = 0; t < 360000; t += 5) {
    p.clear();
    for (int k = t; k < t + 5; ++k) {
      const float q = k % cycle < speech_len ? kSpeechP0 : kSilP0;
      p.insert(p.end(), {q, 1.0f - q});
    }
    out.clear();
    vad.accept(p.data(), 5, 2, {}, false, out);
    all.insert(all.end(), out.begin(), out.end());
    max_bytes = std::max(max_bytes, vad.state_bytes());
    if (t == 6000) bytes_after_first_minute = vad.state_bytes();
  }
  ASSERT_EQ(all.size(), 2u * 720u);
  for (int k = 0; k < 720; ++k) {
    const int64_t s = k == 0 ? 0 : (int64_t{cycle} * k - 26) * 10;
    EXPECT_EQ(all[2 * k], (VadSegmentEdge{s, -1}));
    EXPECT_EQ(all[2 * k + 1], (VadSegmentEdge{-1, (int64_t{cycle} * k + speech_len + 16) * 10}));
  }
  EXPECT_EQ(max_bytes, bytes_after_first_minute);
  EXPECT_LT(max_bytes, 1024u);
  EXPECT_EQ(vad.frames_seen(), 360000);
}

TEST(E2eVad, RejectsBadInput) {
  VadOptions bad;
  bad.frame_in_ms = 0;
  EXPECT_THROW(E2eVad{bad}, Error);
  E2eVad vad(config_opts());
  std::vector<float> p(10, 0.5f);
  std::vector<VadSegmentEdge> out;
  std::vector<float> db(3, 0.0f);
  EXPECT_THROW(vad.accept(p.data(), 5, 2, db, false, out), Error);  // 3 decibels for 5 frames
  VadOptions ids = config_opts();
  ids.sil_pdf_ids = {4};
  E2eVad v2(ids);
  EXPECT_THROW(v2.accept(p.data(), 5, 2, {}, false, out), Error);
}

}  // namespace
}  // namespace paraserve
