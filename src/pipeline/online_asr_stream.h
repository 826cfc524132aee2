// Per-session streaming Paraformer state (funasr-compat.md §3.3.4-3.3.8; FunASR
// ParaformerOnline::Forward). One segment at a time: forward() is called with each online
// frame queued by the splitter; the final frame of a segment decodes the tail and resets.
//
// The per-chunk work is split into steps so that a scheduler could batch the model calls
// across sessions: build the encoder input (prepare), run the encoder, CIF (consume
// encoder output), run the decoder, text (consume decoder output).
#pragma once
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "common/scratch_pool.h"
#include "decode/cif.h"
#include "frontend/fbank.h"
#include "frontend/lfr.h"
#include "models/paraformer_online.h"
#include "pipeline/results.h"

namespace paraserve {

class OnlineAsrStream {
 public:
  // The decoder's output (logits for every fired token, then the new FSMN caches) is written
  // to a buffer borrowed per call from a pool shared by all streams: it is as large as the
  // caches plus N x vocabulary floats (~34 KB per token), and a stream needs it only during
  // its decoder call, so keeping one per stream would cost every connection its largest.
  using DecodeScratchPool = ScratchPool<std::vector<float>>;

  // `fbank`, `model` and `decode_scratch` are shared (engine-owned) and must outlive the stream.
  OnlineAsrStream(const OnlineParaformerModel& model, const FbankComputer& fbank, ChunkSize chunk,
                  DecodeScratchPool& decode_scratch);

  // One online frame (16 kHz floats in [-1,1)). Appends the decoded text delta to `text`.
  // is_final: last frame of the VAD segment; the stream is reset afterwards.
  void forward(std::span<const float> samples, bool is_final, std::string& text);
  void reset();
  std::size_t state_bytes() const;

  // Number of encoder / decoder runs so far (tests and benchmarks).
  std::size_t encoder_runs() const { return encoder_runs_; }
  std::size_t decoder_runs() const { return decoder_runs_; }

 private:
  // Decodes the T frames in chunk_ (a+b+c layout) with CIF's last-chunk flag.
  void forward_chunk(int T, bool last, std::string& text);
  // Builds chunk_ = overlap cache + new frames [from, from+count) of lfr_, updating the cache
  // like FunASR's AddOverlapChunk; returns the number of rows in chunk_.
  int add_overlap_chunk(int from, int count, bool input_finished, bool last);
  void add_positions(float* frames, int count);

  const OnlineParaformerModel& model_;
  DecodeScratchPool& decode_scratch_;
  ChunkSize chunk_size_;
  int feat_dim_;
  int enc_dim_;
  float sqrt_dim_;
  std::vector<float> inv_timescale_;  // exp(-i * ln(10000)/(D/2-1)), i < feat_dim/2

  // Per-segment state.
  StreamingFbank fbank_;
  StreamingLfr lfr_;
  std::vector<float> feats_cache_;  // overlap frames (a+c, or a after a finished chunk)
  int cache_rows_ = 0;
  int position_ = 0;               // frames position-encoded so far in the segment
  bool first_chunk_ = true;
  CifState cif_;
  std::vector<float> dec_caches_;  // num_caches x cache_floats
  std::vector<float*> dec_cache_ptrs_;

  // Scratch reused across calls.
  std::vector<float> scaled_;   // samples x 32768
  std::vector<float> fbank_out_;
  std::vector<float> lfr_out_;
  std::vector<float> chunk_;    // encoder input
  std::vector<float> enc_, alphas_;
  std::vector<float> fired_;
  std::vector<int> ids_;
  std::size_t encoder_runs_ = 0, decoder_runs_ = 0;
};

}  // namespace paraserve
