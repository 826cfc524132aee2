// Per-session streaming FSMN-VAD (FunASR FsmnVadOnline, funasr-compat.md §3.2.2-3.2.4):
// samples (float [-1,1) at 16 kHz) -> x32768 -> streaming fbank -> streaming LFR(5,1) ->
// CMVN -> FSMN-VAD model with 4 per-session caches -> E2E VAD state machine.
//
// Feature frames are independent of how the audio is cut into pieces, so the edges are too,
// except for the final call: like FunASR, a call with input_finished runs the model with
// zeroed FSMN caches (and does not keep the output caches), then resets everything.
#pragma once
#include <array>
#include <cstddef>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "frontend/fbank.h"
#include "frontend/lfr.h"
#include "models/vad_model.h"
#include "pipeline/e2e_vad.h"

namespace paraserve {

// VadOptions with the four config.yaml values of a loaded VAD model.
VadOptions vad_options_from(const VadConfig& config);

class VadStream {
 public:
  // `fbank` may be shared by all sessions (it is immutable); null: one is built from the
  // model's config (costs an FFT plan).
  explicit VadStream(std::shared_ptr<const VadModel> model, std::shared_ptr<const FbankComputer> fbank = nullptr);
  VadStream(const VadStream&) = delete;
  VadStream& operator=(const VadStream&) = delete;

  // Appends the edges of this piece (ms since the stream start) to `out`. After a call with
  // input_finished the stream starts over at 0 ms.
  void accept(std::span<const float> samples, bool input_finished, std::vector<VadSegmentEdge>& out);
  void reset();
  // Bytes reserved by this stream's own state (caches, buffers, state machine).
  std::size_t state_bytes() const;
  const E2eVad& scorer() const { return vad_; }
  // The model output of the latest call that ran the model (T x 248), for tests and tracing.
  std::span<const float> last_probs() const { return probs_; }

 private:
  std::shared_ptr<const VadModel> model_;
  std::shared_ptr<const FbankComputer> fbank_computer_;
  StreamingFbank fbank_;
  StreamingLfr lfr_;
  E2eVad vad_;
  std::array<std::vector<float>, 4> caches_;
  // Samples after the last complete frame start, for the per-frame decibels (same framing
  // as the fbank), and the decibels of fbank frames whose LFR frame is not out yet.
  std::vector<float> dec_tail_;
  std::vector<float> dec_pending_;
  std::vector<float> scaled_;    // samples x 32768
  std::vector<float> fbank_out_;
  std::vector<float> lfr_out_;
  std::vector<float> probs_;
};

// Whole-file segmentation as FunASR's offline FsmnVad::Infer: one fbank over all samples,
// offline LFR + CMVN, zero caches, a fresh scorer, all segments [start_ms, end_ms].
std::vector<std::pair<int64_t, int64_t>> vad_segments_offline(const VadModel& model, std::span<const float> samples);

}  // namespace paraserve
