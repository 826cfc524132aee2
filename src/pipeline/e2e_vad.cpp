#include "pipeline/e2e_vad.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "common/error.h"

namespace paraserve {

namespace {

void require(bool ok, const char* field, const std::string& expected) {
  if (!ok) throw Error(std::string("vad options: ") + field + ": expected " + expected);
}

}  // namespace

void VadOptions::validate() const {
  require(sample_rate > 0, "sample_rate", "> 0");
  require(detect_mode == 0 || detect_mode == 1, "detect_mode", "0 (single) or 1 (multiple utterances)");
  require(frame_in_ms > 0, "frame_in_ms", "> 0");
  require(frame_length_ms >= frame_in_ms, "frame_length_ms", ">= frame_in_ms");
  require(window_size_ms >= frame_in_ms, "window_size_ms", ">= frame_in_ms");
  require(sil_to_speech_time_thres >= 0 && speech_to_sil_time_thres >= 0, "sil_to_speech/speech_to_sil_time_thres",
          ">= 0");
  require(max_end_silence_time >= 0, "max_end_silence_time", ">= 0 ms");
  require(max_start_silence_time >= 0, "max_start_silence_time", ">= 0 ms");
  require(max_single_segment_time >= frame_in_ms, "max_single_segment_time", ">= frame_in_ms");
  require(lookback_time_start_point >= 0 && lookahead_time_end_point >= 0, "lookback/lookahead time", ">= 0 ms");
  require(noise_frame_num_used_for_snr >= 1, "noise_frame_num_used_for_snr", ">= 1");
  require(std::isfinite(speech_noise_thres), "speech_noise_thres", "a finite number");
  for (int id : sil_pdf_ids) require(id >= 0, "sil_pdf_ids", "non-negative pdf indices");
}

float frame_decibel(const float* samples, int n) {
  float sum = 0.0f;  // float accumulation, as FunASR
  for (int i = 0; i < n; ++i) sum += samples[i] * samples[i];
  return static_cast<float>(10 * std::log10(static_cast<double>(sum) + 0.000001));
}

void frame_decibels(std::span<const float> wave, int frame_len, int frame_shift, std::vector<float>& out) {
  if (frame_len <= 0 || frame_shift <= 0) throw Error("frame_decibels: frame_len and frame_shift must be > 0");
  for (std::size_t off = 0; off + static_cast<std::size_t>(frame_len) <= wave.size();
       off += static_cast<std::size_t>(frame_shift)) {
    out.push_back(frame_decibel(wave.data() + off, frame_len));
  }
}

E2eVad::E2eVad(const VadOptions& options) : opts_(options) {
  opts_.validate();
  const int win = opts_.window_size_ms / opts_.frame_in_ms;
  win_state_.assign(static_cast<std::size_t>(win), 0);
  sil_to_speech_frames_ = opts_.sil_to_speech_time_thres / opts_.frame_in_ms;
  speech_to_sil_frames_ = opts_.speech_to_sil_time_thres / opts_.frame_in_ms;
  records_.reserve(4);
  reset();
}

void E2eVad::reset() {
  state_ = State::kStartNotDetected;
  frm_cnt_ = 0;
  data_buf_start_frame_ = 0;
  number_end_time_detected_ = 0;
  noise_average_decibel_ = -100.0f;
  next_seg_ = true;
  records_.clear();
  reset_detection();
}

void E2eVad::reset_detection() {
  continuous_silence_frames_ = 0;
  latest_confirmed_speech_frame_ = 0;
  latest_confirmed_silence_frame_ = -1;
  confirmed_start_frame_ = -1;
  confirmed_end_frame_ = -1;
  state_ = State::kStartNotDetected;
  std::fill(win_state_.begin(), win_state_.end(), uint8_t{0});
  win_pos_ = 0;
  win_sum_ = 0;
  win_speech_ = false;
}

std::size_t E2eVad::state_bytes() const {
  return sizeof(*this) + win_state_.capacity() + records_.capacity() * sizeof(Record) +
         opts_.sil_pdf_ids.capacity() * sizeof(int);
}

int64_t E2eVad::start_latency_frames() const {
  int64_t latency = static_cast<int64_t>(win_state_.size());
  if (opts_.do_extend) latency += opts_.lookback_time_start_point / opts_.frame_in_ms;
  return latency;
}

E2eVad::Change E2eVad::window_push(bool speech) {
  const uint8_t s = speech ? 1 : 0;
  win_sum_ += s - win_state_[static_cast<std::size_t>(win_pos_)];
  win_state_[static_cast<std::size_t>(win_pos_)] = s;
  win_pos_ = (win_pos_ + 1) % static_cast<int>(win_state_.size());
  if (!win_speech_ && win_sum_ >= sil_to_speech_frames_) {
    win_speech_ = true;
    return Change::kSil2Speech;
  }
  if (win_speech_ && win_sum_ <= speech_to_sil_frames_) {
    win_speech_ = false;
    return Change::kSpeech2Sil;
  }
  return win_speech_ ? Change::kSpeech2Speech : Change::kSil2Sil;
}

// FunASR PopDataToOutputBuf with frm_cnt = 1 (the only use): extends the newest record by
// one frame, opening a new record at a start point.
void E2eVad::pop_to_output(int64_t frame, bool first_is_start, bool last_is_end) {
  pop_till(frame);
  const int64_t fim = opts_.frame_in_ms;
  if (records_.empty() || first_is_start) records_.push_back(Record{frame * fim, frame * fim, false, false});
  Record& seg = records_.back();
  data_buf_start_frame_ += 1;
  seg.end_ms = (frame + 1) * fim;
  if (first_is_start) seg.has_start = true;
  if (last_is_end) seg.has_end = true;
}

void E2eVad::on_silence_detected(int64_t frame) {
  latest_confirmed_silence_frame_ = frame;
  if (state_ == State::kStartNotDetected) pop_till(frame);
}

void E2eVad::on_voice_detected(int64_t frame) {
  latest_confirmed_speech_frame_ = frame;
  pop_to_output(frame, false, false);
}

void E2eVad::on_voice_start(int64_t frame, bool fake) {
  if (confirmed_start_frame_ == -1) confirmed_start_frame_ = frame;
  if (!fake && state_ == State::kStartNotDetected) pop_to_output(confirmed_start_frame_, true, false);
}

void E2eVad::on_voice_end(int64_t frame, bool fake) {
  for (int64_t t = latest_confirmed_speech_frame_ + 1; t < frame; ++t) on_voice_detected(t);
  if (confirmed_end_frame_ == -1) confirmed_end_frame_ = frame;
  if (!fake) pop_to_output(confirmed_end_frame_, false, true);
  ++number_end_time_detected_;
}

void E2eVad::detect_one_frame(bool speech, int64_t cur, bool is_final_frame) {
  // FunASR keeps a speech frame only if |1.0| > fe_prior_thres (always, with 1e-4).
  if (speech && !(1.0 > opts_.fe_prior_thres)) speech = false;
  const Change change = window_push(speech);
  const int64_t shift = opts_.frame_in_ms;
  const bool too_long = state_ == State::kInSpeech && cur - confirmed_start_frame_ + 1 > max_segment_frames();
  auto end_here_or_continue = [&] {
    if (too_long) {
      on_voice_end(cur, false);
      state_ = State::kEndDetected;
    } else if (!is_final_frame) {
      on_voice_detected(cur);
    } else {
      on_voice_end(cur, false);  // last frame of the stream ends the segment
      state_ = State::kEndDetected;
    }
  };

  switch (change) {
    case Change::kSil2Speech:
      continuous_silence_frames_ = 0;
      if (state_ == State::kStartNotDetected) {
        const int64_t start = std::max(data_buf_start_frame_, cur - start_latency_frames());
        on_voice_start(start, false);
        state_ = State::kInSpeech;
        for (int64_t t = start + 1; t <= cur; ++t) on_voice_detected(t);
      } else if (state_ == State::kInSpeech) {
        for (int64_t t = latest_confirmed_speech_frame_ + 1; t < cur; ++t) on_voice_detected(t);
        end_here_or_continue();
      }
      break;
    case Change::kSpeech2Sil:
      continuous_silence_frames_ = 0;
      if (state_ == State::kInSpeech) end_here_or_continue();
      break;
    case Change::kSpeech2Speech:
      continuous_silence_frames_ = 0;
      if (state_ == State::kInSpeech) end_here_or_continue();
      break;
    case Change::kSil2Sil:
      continuous_silence_frames_ += 1;
      if (state_ == State::kStartNotDetected) {
        const bool single_timeout = opts_.detect_mode == 0 &&
                                    continuous_silence_frames_ * shift > opts_.max_start_silence_time;
        if (single_timeout || (is_final_frame && number_end_time_detected_ == 0)) {
          // FunASR confirms silence up to cur-1 and records a fake (unreported) segment.
          if (latest_confirmed_silence_frame_ + 1 < cur) on_silence_detected(cur - 1);
          on_voice_start(0, true);
          on_voice_end(0, true);
          state_ = State::kEndDetected;
        } else if (cur >= start_latency_frames()) {
          on_silence_detected(cur - start_latency_frames());
        }
      } else if (state_ == State::kInSpeech) {
        const int64_t end_sil_ms = opts_.max_end_silence_time - opts_.speech_to_sil_time_thres;
        if (continuous_silence_frames_ * shift >= end_sil_ms) {
          int64_t lookback = end_sil_ms / shift;
          if (opts_.do_extend) {
            lookback -= opts_.lookahead_time_end_point / shift;
            lookback -= 1;
            lookback = std::max<int64_t>(0, lookback);
          }
          on_voice_end(cur - lookback, false);
          state_ = State::kEndDetected;
        } else if (too_long) {
          on_voice_end(cur, false);
          state_ = State::kEndDetected;
        } else if (opts_.do_extend && !is_final_frame) {
          if (continuous_silence_frames_ <= opts_.lookahead_time_end_point / shift) on_voice_detected(cur);
        } else if (is_final_frame) {
          on_voice_end(cur, false);
          state_ = State::kEndDetected;
        }
      }
      break;
  }
  if (state_ == State::kEndDetected && opts_.detect_mode == 1) reset_detection();
}

// FunASR GetFrameState. Math kept in float as FunASR's (float overloads of log/exp).
bool E2eVad::frame_is_speech(const float* row, int num_pdfs, float decibel, int64_t t, bool* gated) {
  (void)num_pdfs;
  const bool has_db = gated != nullptr;
  if (has_db && decibel < opts_.decibel_thres) {
    detect_one_frame(false, t, false);  // FunASR feeds such a frame to the detector twice
    return false;
  }
  float sum_score = 0.0f;
  float noise_prob = 0.0f;
  if (!opts_.sil_pdf_ids.empty()) {
    double acc = 0.0;
    for (int id : opts_.sil_pdf_ids) acc += row[id];
    sum_score = static_cast<float>(acc);
    noise_prob = std::log(sum_score) * opts_.speech_2_noise_ratio;
    sum_score = 1.0f - sum_score;
  }
  const float speech_prob = std::log(sum_score);
  if (std::exp(speech_prob) >= std::exp(noise_prob) + opts_.speech_noise_thres) {
    if (!has_db) return true;
    const float snr = decibel - noise_average_decibel_;
    return snr >= opts_.snr_thres && decibel >= opts_.decibel_thres;
  }
  if (has_db) {
    if (noise_average_decibel_ < -99.9f) {
      noise_average_decibel_ = decibel;
    } else {
      const int n = opts_.noise_frame_num_used_for_snr;
      noise_average_decibel_ = (decibel + noise_average_decibel_ * static_cast<float>(n - 1)) / static_cast<float>(n);
    }
  }
  return false;
}

void E2eVad::run(const float* probs, int T, int num_pdfs, std::span<const float> decibels, bool is_final) {
  if (T < 0) throw Error("vad: frame count T must be >= 0, got " + std::to_string(T));
  if (T > 0 && probs == nullptr) throw Error("vad: probs is null for T = " + std::to_string(T));
  for (int id : opts_.sil_pdf_ids) {
    if (id >= num_pdfs) {
      throw Error("vad: sil_pdf_id " + std::to_string(id) + " is outside the model's " + std::to_string(num_pdfs) +
                  " pdfs");
    }
  }
  if (!decibels.empty() && decibels.size() != static_cast<std::size_t>(T)) {
    throw Error("vad: decibels must have one value per frame (" + std::to_string(T) + "), got " +
                std::to_string(decibels.size()));
  }
  const int64_t base = frm_cnt_;
  frm_cnt_ += T;
  if (state_ == State::kEndDetected) return;  // single-utterance mode after its end
  const bool has_db = !decibels.empty();
  for (int i = 0; i < T; ++i) {
    const int64_t t = base + i;
    bool gated = false;
    const bool speech = frame_is_speech(probs + static_cast<std::size_t>(i) * static_cast<std::size_t>(num_pdfs),
                                        num_pdfs, has_db ? decibels[static_cast<std::size_t>(i)] : 0.0f, t,
                                        has_db ? &gated : nullptr);
    detect_one_frame(speech, t, is_final && i == T - 1);
  }
}

void E2eVad::emit(bool online, bool is_final, std::vector<VadSegmentEdge>* edges,
                  std::vector<std::pair<int64_t, int64_t>>* segments) {
  // Walk the records as FunASR walks output_data_buf from output_data_buf_offset; the
  // records it would never look at again (the first `consumed`) are dropped.
  std::size_t consumed = 0;
  for (const Record& r : records_) {
    int64_t start = -1, end = -1;
    if (online) {
      if (!r.has_start) continue;
      if (!next_seg_ && !r.has_end) continue;
      start = next_seg_ ? r.start_ms : -1;
      if (r.has_end) {
        end = r.end_ms;
        next_seg_ = true;
        ++consumed;
      } else {
        next_seg_ = false;
      }
    } else {
      if (!is_final && (!r.has_start || !r.has_end)) continue;
      start = r.start_ms;
      end = r.end_ms;
      ++consumed;
    }
    if (edges) edges->push_back(VadSegmentEdge{start, end});
    if (segments) segments->emplace_back(start, end);
  }
  records_.erase(records_.begin(), records_.begin() + static_cast<std::ptrdiff_t>(std::min(consumed, records_.size())));
}

void E2eVad::accept(const float* probs, int T, int num_pdfs, std::span<const float> decibels, bool is_final,
                    std::vector<VadSegmentEdge>& out) {
  run(probs, T, num_pdfs, decibels, is_final);
  emit(true, is_final, &out, nullptr);
  if (is_final) reset();
}

std::vector<std::pair<int64_t, int64_t>> E2eVad::offline(const VadOptions& options, const float* probs, int T,
                                                         int num_pdfs, std::span<const float> decibels) {
  E2eVad vad(options);
  vad.run(probs, T, num_pdfs, decibels, true);
  std::vector<std::pair<int64_t, int64_t>> segments;
  vad.emit(false, true, nullptr, &segments);
  return segments;
}

}  // namespace paraserve
