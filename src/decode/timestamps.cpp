#include "decode/timestamps.h"

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "common/error.h"
#include "decode/text.h"

namespace paraserve {

namespace {

// FunASR's constants (util.cpp TimestampOnnx), with its float/double types.
constexpr float kStartEndThreshold = 5.0f;
constexpr float kMaxTokenDuration = 30.0f;
constexpr float kTimeRate = static_cast<float>(10.0 * 6 / 1000 / 3);  // 20 ms upsampled frames
constexpr float kTotalOffset = -1.5f;
constexpr double kPeakThreshold = 1.0 - 1e-4;

std::string_view token_at(std::span<const int> ids, std::span<const std::string> tokens,
                          size_t i) {
  const int id = ids[i];
  if (id < 0 || static_cast<size_t>(id) >= tokens.size()) return {};
  return tokens[static_cast<size_t>(id)];
}

void find_peaks(std::span<const float> peak, std::vector<float>& fire_place) {
  fire_place.clear();
  for (size_t i = 0; i < peak.size(); ++i) {
    if (static_cast<double>(peak[i]) > kPeakThreshold) {
      fire_place.push_back(static_cast<float>(static_cast<int>(i)) + kTotalOffset);
    }
  }
}

struct Piece {
  SecondStamp s;
  bool sil = false;
};

}  // namespace

std::vector<SecondStamp> cif_token_stamps(std::span<const float> us_alphas,
                                          std::span<const float> us_cif_peak,
                                          std::span<const int> ids,
                                          std::span<const std::string> tokens) {
  if (us_alphas.size() != us_cif_peak.size()) {
    throw Error("timestamp model outputs: us_alphas has " + std::to_string(us_alphas.size()) +
                " values but us_cif_peak has " + std::to_string(us_cif_peak.size()) +
                ", expected the same length");
  }
  std::vector<SecondStamp> result;
  size_t n_tok = ids.size();
  if (n_tok == 0) return result;
  if (token_at(ids, tokens, n_tok - 1) == "</s>") --n_tok;
  if (n_tok == 0) return result;

  const int num_frames = static_cast<int>(us_cif_peak.size());
  std::vector<float> fire_place;
  find_peaks(us_cif_peak, fire_place);

  if (fire_place.size() != n_tok + 1) {
    // The peaks do not match the tokens: rescale the alphas so they sum to tokens + 1 and
    // integrate them again (FunASR keeps the float accumulator and double thresholds).
    float sum = 0.0f;
    for (float a : us_alphas) sum += a;
    const float scale = sum / static_cast<float>(static_cast<int>(n_tok) + 1);
    if (scale == 0.0f) return result;
    std::vector<float> peak;
    peak.reserve(us_alphas.size());
    sum = 0.0f;
    for (float a : us_alphas) {
      sum += a / scale;
      peak.push_back(sum);
      if (static_cast<double>(sum) >= kPeakThreshold) {
        sum = static_cast<float>(static_cast<double>(sum) - kPeakThreshold);
      }
    }
    // Weight left over at the end is pushed back onto the latest frames that did not fire.
    for (int idx = static_cast<int>(peak.size()) - 1;
         static_cast<double>(sum) >= kPeakThreshold && idx >= 0; --idx) {
      if (static_cast<double>(peak[static_cast<size_t>(idx)]) < kPeakThreshold) {
        peak[static_cast<size_t>(idx)] = sum;
        sum = static_cast<float>(static_cast<double>(sum) - kPeakThreshold);
      }
    }
    find_peaks(peak, fire_place);
  }
  if (fire_place.empty()) return result;
  const size_t num_peak = fire_place.size();

  std::vector<Piece> pieces;
  pieces.reserve(2 * num_peak + 2);
  if (fire_place[0] > kStartEndThreshold) {
    pieces.push_back({{0.0f, fire_place[0] * kTimeRate}, true});
  }
  for (size_t i = 0; i + 1 < num_peak; ++i) {
    // FunASR names peak interval i after token i; beyond the tokens it reads out of bounds,
    // here such intervals count as (unreturned) tokens.
    const bool sil = i < n_tok && token_at(ids, tokens, i) == "<sil>";
    if (i + 2 == num_peak || fire_place[i + 1] - fire_place[i] < kMaxTokenDuration) {
      pieces.push_back({{fire_place[i] * kTimeRate, fire_place[i + 1] * kTimeRate}, sil});
    } else {
      // A token longer than 0.6 s is cut: token, then silence for the rest.
      const float split = fire_place[i] + kMaxTokenDuration;
      pieces.push_back({{fire_place[i] * kTimeRate, split * kTimeRate}, sil});
      pieces.push_back({{split * kTimeRate, fire_place[i + 1] * kTimeRate}, true});
    }
  }
  if (pieces.empty()) return result;
  const float frames_f = static_cast<float>(num_frames);
  if (frames_f - fire_place.back() > kStartEndThreshold) {
    const float end = static_cast<float>(static_cast<double>(frames_f + fire_place.back()) / 2.0);
    pieces.back().s.end = end * kTimeRate;
    pieces.push_back({{end * kTimeRate, frames_f * kTimeRate}, true});
  } else {
    pieces.back().s.end = frames_f * kTimeRate;
  }

  for (const Piece& p : pieces) {
    if (!p.sil) result.push_back(p.s);
  }
  return result;
}

int64_t stamp_seconds_to_ms(float sec, int64_t segment_start_ms) {
  // PostProcess prints with std::to_string (%f), the runtime parses back with std::stof.
  char buf[64];
  std::snprintf(buf, sizeof buf, "%f", static_cast<double>(sec));
  const float parsed = std::strtof(buf, nullptr);
  const float start_f = static_cast<float>(static_cast<int>(segment_start_ms));
  const float t = static_cast<float>(static_cast<double>(parsed) +
                                     static_cast<double>(start_f) / 1000.0);
  return static_cast<int64_t>(static_cast<int>(1000.0f * t));
}

TimestampedText timestamped_text(std::span<const float> us_alphas,
                                 std::span<const float> us_cif_peak, std::span<const int> ids,
                                 std::span<const std::string> tokens, int64_t segment_start_ms) {
  const std::vector<SecondStamp> ts = cif_token_stamps(us_alphas, us_cif_peak, ids, tokens);
  // FunASR indexes the stamp list by the raw token index; past its end it reads garbage.
  auto stamp_at = [&ts](size_t i) -> SecondStamp {
    if (i < ts.size()) return ts[i];
    if (ts.empty()) return {};
    return {ts.back().end, ts.back().end};
  };

  TimestampedText out;
  std::vector<TokenWord> words;
  walk_token_words(ids, tokens, WordSpacing::kAlways, out.text, &words);
  std::vector<SecondStamp> merged;
  merged.reserve(words.size());
  for (const TokenWord& w : words) {
    // A CJK token has its own stamp; an English word runs from its first piece's start to
    // its last piece's end.
    const SecondStamp last = stamp_at(w.last);
    merged.push_back(w.cjk ? last : SecondStamp{stamp_at(w.first).begin, last.end});
  }

  out.stamps.reserve(merged.size());
  for (const SecondStamp& s : merged) {
    out.stamps.push_back(
        {stamp_seconds_to_ms(s.begin, segment_start_ms), stamp_seconds_to_ms(s.end, segment_start_ms)});
  }
  out.seconds = std::move(merged);
  return out;
}

}  // namespace paraserve
