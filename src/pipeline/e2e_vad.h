// FunASR's E2E VAD post-processor (runtime/onnxruntime/src/e2e-vad.h, funasr-compat.md
// §3.2.5): turns per-frame speech probabilities of the FSMN-VAD model into speech segment
// edges, frame for frame as FunASR does (window smoothing, 400 ms start lookback, end after
// max_end_silence_time with lookahead, max_single_segment_time cuts, final-frame flush).
//
// Differences from FunASR, none of which changes an emitted edge:
//  * FunASR keeps every frame's decibel and every segment record until end of stream; here
//    only the records not yet fully reported are kept, and decibels are passed per call
//    (one per scored frame), so state does not grow with stream length.
//  * FunASR's online path indexes its decibel history with drifting offsets (the waves it
//    passes overlap by 4 frames per call); here decibel t belongs to frame t. The energy
//    gates use -100 dB thresholds and a [-1,1) wave gives >= -60 dB, so they never fire.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace paraserve {

// One VAD event in FunASR's online form (ms since stream start, -1 = absent in this call):
// [s,-1] speech started, [-1,e] speech ended, [s,e] a whole segment in one call.
struct VadSegmentEdge {
  int64_t start_ms = -1;
  int64_t end_ms = -1;
  bool operator==(const VadSegmentEdge&) const = default;
};

// FunASR's VADXOptions with its compiled-in values. Only sample_rate,
// max_end_silence_time, max_single_segment_time and speech_noise_thres come from the VAD
// dir's config.yaml (see VadConfig); set them from there.
struct VadOptions {
  int sample_rate = 16000;
  int detect_mode = 1;                 // 1 = multiple utterances (FunASR), 0 = single
  int snr_mode = 0;                    // unused by FunASR
  int max_end_silence_time = 800;      // ms (config)
  int max_start_silence_time = 3000;   // ms, single-utterance mode only
  bool do_start_point_detection = true;
  bool do_end_point_detection = true;
  int window_size_ms = 200;
  int sil_to_speech_time_thres = 150;  // ms
  int speech_to_sil_time_thres = 150;  // ms
  float speech_2_noise_ratio = 1.0f;
  int do_extend = 1;
  int lookback_time_start_point = 200;  // ms
  int lookahead_time_end_point = 100;   // ms
  int max_single_segment_time = 15000;  // ms (config; FunASR's template has 60000)
  float snr_thres = -100.0f;
  int noise_frame_num_used_for_snr = 100;
  float decibel_thres = -100.0f;
  float speech_noise_thres = 0.9f;      // config (template 0.6)
  float fe_prior_thres = 1e-4f;
  std::vector<int> sil_pdf_ids = {0};   // pdfs whose summed probability is "silence"
  int frame_in_ms = 10;
  int frame_length_ms = 25;

  // Throws paraserve::Error("vad options: <field> ...") for a value the algorithm cannot use.
  void validate() const;
};

// 10*log10(sum(x^2) + 1e-6) over one frame of the [-1,1) wave, computed as FunASR does
// (float sum, double log).
float frame_decibel(const float* samples, int n);
// Decibel of every complete frame (frame_len samples, shift frame_shift, snip edges) of
// `wave`; appends to `out`.
void frame_decibels(std::span<const float> wave, int frame_len, int frame_shift, std::vector<float>& out);

// Per-stream state machine. Not thread-safe; one per session.
class E2eVad {
 public:
  explicit E2eVad(const VadOptions& options = {});

  // Online form (FunASR's scorer with online=true). probs: T rows of num_pdfs (softmax
  // probabilities, the model's `logits`). decibels: one per row (frame t of this call), or
  // empty to skip the energy gates. Appends this call's edges to `out`. is_final flushes
  // (the last row is the last frame of the stream) and then resets everything.
  void accept(const float* probs, int T, int num_pdfs, std::span<const float> decibels, bool is_final,
              std::vector<VadSegmentEdge>& out);

  // Back to the state of a new object (FunASR AllResetDetection).
  void reset();

  std::size_t state_bytes() const;
  int64_t frames_seen() const { return frm_cnt_; }
  bool in_speech() const { return state_ == State::kInSpeech; }

  // Whole-file form (FunASR FsmnVad::Infer: a fresh scorer, one call with is_final and
  // online=false): every segment as [start_ms, end_ms].
  static std::vector<std::pair<int64_t, int64_t>> offline(const VadOptions& options, const float* probs, int T,
                                                          int num_pdfs, std::span<const float> decibels);

 private:
  enum class State { kStartNotDetected, kInSpeech, kEndDetected };
  enum class Change { kSpeech2Speech, kSpeech2Sil, kSil2Sil, kSil2Speech };
  // A speech segment as FunASR's output_data_buf entry (only the ones not yet reported).
  struct Record {
    int64_t start_ms = 0;
    int64_t end_ms = 0;
    bool has_start = false;
    bool has_end = false;
  };

  void run(const float* probs, int T, int num_pdfs, std::span<const float> decibels, bool is_final);
  void emit(bool online, bool is_final, std::vector<VadSegmentEdge>* edges,
            std::vector<std::pair<int64_t, int64_t>>* segments);
  bool frame_is_speech(const float* row, int num_pdfs, float decibel, int64_t t, bool* gated);
  Change window_push(bool speech);
  void detect_one_frame(bool speech, int64_t t, bool is_final_frame);
  void reset_detection();
  void pop_till(int64_t frame) { if (data_buf_start_frame_ < frame) data_buf_start_frame_ = frame; }
  void pop_to_output(int64_t frame, bool first_is_start, bool last_is_end);
  void on_silence_detected(int64_t frame);
  void on_voice_detected(int64_t frame);
  void on_voice_start(int64_t frame, bool fake);
  void on_voice_end(int64_t frame, bool fake);
  int64_t start_latency_frames() const;
  int64_t max_segment_frames() const { return opts_.max_single_segment_time / opts_.frame_in_ms; }

  VadOptions opts_;
  // WindowDetector: ring of the last win_size frame decisions.
  std::vector<uint8_t> win_state_;
  int win_pos_ = 0;
  int win_sum_ = 0;
  bool win_speech_ = false;  // pre_frame_state
  int sil_to_speech_frames_ = 0;
  int speech_to_sil_frames_ = 0;

  State state_ = State::kStartNotDetected;
  int64_t frm_cnt_ = 0;
  int64_t data_buf_start_frame_ = 0;
  int64_t latest_confirmed_speech_frame_ = 0;
  int64_t latest_confirmed_silence_frame_ = -1;
  int64_t continuous_silence_frames_ = 0;
  int64_t confirmed_start_frame_ = -1;
  int64_t confirmed_end_frame_ = -1;
  int64_t number_end_time_detected_ = 0;
  float noise_average_decibel_ = -100.0f;
  bool next_seg_ = true;
  std::vector<Record> records_;  // compacted after every call; bounded by segments per call
};

}  // namespace paraserve
