// StreamSession: FunASR's FunTpassInferBuffer loop (funasr-compat.md §2.5) per 800-sample
// input piece: PCM intake (+ carried-state resampling) -> streaming VAD -> Audio::Split
// queueing -> online pass -> offline pass at each VAD end -> punctuation -> stamps.
#include "pipeline/session.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

#include "common/error.h"
#include "decode/stamp_sents.h"
#include "frontend/resampler.h"
#include "pipeline/audio_splitter.h"
#include "pipeline/engine_impl.h"
#include "pipeline/itn_stage.h"
#include "pipeline/offline_asr.h"
#include "pipeline/online_asr_stream.h"
#include "pipeline/stream_limits.h"
#include "pipeline/vad_stream.h"

namespace paraserve {

namespace {

// FunASR's unit of work: 1600 bytes of s16le PCM at the input rate (websocket-server-2pass.cpp).
constexpr std::size_t kPieceSamples = 800;
constexpr const char* kPcmOnlyError = "ERROR. Real-time transcription service ONLY SUPPORT PCM stream.";

void validate_options(const SessionOptions& o) {
  // The same rules the server applies to client messages (pipeline/stream_limits.h).
  if (auto e = stream_limits::check_chunk_size(o.chunk.left, o.chunk.chunk, o.chunk.right); !e.empty()) throw Error(e);
  if (auto e = stream_limits::check_audio_fs(o.sample_rate); !e.empty()) throw Error(e);
}

bool is_pcm(const std::string& f) { return f == "pcm" || f == "PCM"; }

}  // namespace

struct StreamSession::Impl {
  Impl(std::shared_ptr<const Engine> e, const SessionOptions& o)
      : engine(std::move(e)),
        options(o),
        vad(engine->vad, engine->vad_fbank),
        splitter(splitter_config(*engine, o)),
        online(*engine->online, *engine->online_fbank, o.chunk, *engine->online_decode_scratch),
        offline(*engine, OfflineAsrOptions{o.svs_lang, o.svs_itn}) {
    if (o.sample_rate != 16000) resampler.emplace(o.sample_rate, 16000);
    pending.reserve(kPieceSamples);
    piece_in.reserve(kPieceSamples);
    piece.reserve(kPieceSamples * 16000 / static_cast<std::size_t>(std::min(o.sample_rate, 16000)) + 64);
    edges.reserve(8);
    split_edges.reserve(8);
    online_frames.reserve(16);
    offline_frames.reserve(4);
    frame_buf.reserve(static_cast<std::size_t>(o.chunk.chunk) * 960 + 16);
    // Hotwords bias the LM search (client entries merged with the server's); without an LM
    // they have no effect, as in FunASR.
    std::vector<std::string> problems;
    bias = engine->hotword_bias(o.hotwords, problems);
    if (!problems.empty()) {
      std::string line;
      for (const auto& p : problems) line += (line.empty() ? "" : "; ") + p;
      spdlog::warn("{}", line);
    }
  }

  static AudioSplitterConfig splitter_config(const Engine& engine, const SessionOptions& o) {
    AudioSplitterConfig c;
    c.chunk_len = o.chunk.chunk * 960;
    c.max_single_segment_ms = engine.vad->config().max_single_segment_time;
    return c;
  }

  // One piece in two steps: the first pass (intake, VAD, splitting, online pass) returns
  // true when the splitter queued a finished segment for the second pass; the second step
  // (offline pass of those segments + punctuation + stamps, then the VAD times and the
  // history trim) completes the piece's result. Nothing else may touch the session in between.
  bool first_pass(std::span<const int16_t> pcm, bool input_finished, StreamResult& r);
  void second_pass(bool input_finished, StreamResult& r);
  void end_of_stream();
  // Completes a piece whose second pass has run: delivers its result (feed or finish rules).
  void deliver(bool input_finished, StreamResult& r, std::vector<StreamResult>& out);

  std::shared_ptr<const Engine> engine;
  SessionOptions options;
  VadStream vad;
  AudioSplitter splitter;
  OnlineAsrStream online;
  OfflineAsr offline;
  std::optional<StreamingResampler> resampler;

  std::vector<int16_t> pending;  // < 800 input samples
  std::vector<float> piece_in, piece;
  std::vector<VadSegmentEdge> edges;
  std::vector<SplitEdge> split_edges;
  std::vector<SplitFrame> online_frames, offline_frames;
  std::vector<float> frame_buf;
  std::vector<std::string> punc_cache;  // realtime punctuation cache of the 2pass sentences
  OfflineAsrResult offline_result;
  std::shared_ptr<const lm::BiasLm> bias;  // this session's hotwords (nullptr: none / no LM)

  // A piece whose second pass has not run yet (feed_until_second_pass / begin_finish).
  bool pass_pending = false;
  bool pass_input_finished = false;
  StreamResult pass_result;
};

bool StreamSession::Impl::first_pass(std::span<const int16_t> pcm, bool input_finished, StreamResult& r) {
  // 1. PCM intake: int16 -> float / 32768, resampled to 16 kHz with carried state.
  piece_in.resize(pcm.size());
  for (std::size_t i = 0; i < pcm.size(); ++i) piece_in[i] = static_cast<float>(pcm[i]) / 32768.0f;
  std::span<const float> samples = piece_in;
  if (resampler) {
    piece.clear();
    resampler->process(piece_in, piece);
    if (input_finished) resampler->flush(piece);
    samples = piece;
  }
  splitter.push(samples);

  // 2. VAD on this piece.
  edges.clear();
  vad.accept(samples, input_finished, edges);
  split_edges.clear();
  for (const auto& e : edges) split_edges.push_back({e.start_ms, e.end_ms});

  if (options.observer) [[unlikely]] {
    int64_t start = splitter.vad_start_ms();
    for (const auto& e : edges) {
      if (e.start_ms != -1) start = e.start_ms;
      if (e.end_ms != -1) options.observer->on_vad_end(start >= 0 ? e.end_ms - start : -1);
    }
  }

  // 3. Queueing (Audio::Split).
  online_frames.clear();
  offline_frames.clear();
  const Mode mode = options.mode;
  splitter.split(split_edges, mode, online_frames, offline_frames);

  // 4. Online pass.
  for (const SplitFrame& f : online_frames) {
    splitter.copy(f, frame_buf);
    // FunASR's online mode also punctuates each finished segment's online text (with a
    // cache of its own) into a field its websocket layer never sends for online; nothing a
    // client sees depends on it, so that work is not done here.
    std::string delta;
    online.forward(frame_buf, f.is_final, delta);
    r.online_text += delta;
  }
  return !offline_frames.empty();
}

void StreamSession::Impl::second_pass(bool input_finished, StreamResult& r) {
  // 5. Offline pass for each finished segment; only the last one's text is kept (FunASR).
  for (const SplitFrame& f : offline_frames) {
    auto scratch = engine->offline_scratch->acquire();  // segment-sized buffers, reused
    splitter.copy(f, scratch->segment);
    if (options.observer) [[unlikely]]
      options.observer->on_offline_start(static_cast<int64_t>(scratch->segment.size()) / AudioSplitter::kSamplesPerMs);
    offline.recognize(scratch->segment, f.global_start_ms, *scratch, offline_result, bias.get());
    std::string text;
    r.timestamps = offline_result.stamps;
    if (offline_result.punctuate) {
      text = engine->punctuator->punctuate_realtime(offline_result.text, punc_cache);
      finish_tpass_sentence(text, input_finished);
      if (engine->itn && options.itn) apply_itn(*engine->itn, text, r.timestamps);  // + TimestampSmooth
    } else {
      text = offline_result.text;  // SenseVoiceSmall: sent as it is (its own ITN is svs_itn)
    }
    r.offline_text = std::move(text);
    r.has_offline = !r.offline_text.empty();
    r.has_timestamps = !r.timestamps.empty();
    r.stamp_sents.clear();
    if (r.has_timestamps) r.stamp_sents = build_stamp_sents(r.offline_text, r.timestamps);
  }

  r.vad_start_ms = splitter.vad_start_ms();
  r.vad_end_ms = splitter.vad_end_ms();
  if (input_finished) {
    splitter.reset();  // ResetIndex: the time axis restarts at 0
  } else {
    splitter.trim();
  }
}

void StreamSession::Impl::end_of_stream() {
  // The websocket layer clears the punctuation caches after the final call; the VAD, the
  // online stream and the splitter reset themselves in it.
  punc_cache.clear();
  pending.clear();
  if (resampler) resampler->reset();
}

StreamSession::StreamSession(std::shared_ptr<const Engine> engine, const SessionOptions& options) {
  if (!engine) throw Error("StreamSession: no engine");
  // Checked before any member is built: every streaming component needs its model.
  engine->require_streaming();
  engine->require_offline("streaming (2pass)");
  validate_options(options);
  impl_ = std::make_unique<Impl>(std::move(engine), options);
}

StreamSession::~StreamSession() = default;

void StreamSession::set_mode(Mode mode) { impl_->options.mode = mode; }

const SessionOptions& StreamSession::options() const { return impl_->options; }

void StreamSession::Impl::deliver(bool input_finished, StreamResult& r, std::vector<StreamResult>& out) {
  if (input_finished) {
    r.is_final = true;
    end_of_stream();
    out.push_back(std::move(r));
  } else if (!r.online_text.empty() || r.has_offline) {
    // Non-final results are delivered only when they carry text (websocket-server-2pass.cpp).
    out.push_back(std::move(r));
  }
}

void StreamSession::feed(std::span<const int16_t> pcm, std::vector<StreamResult>& out) {
  while (!pcm.empty()) {
    pcm = pcm.subspan(feed_until_second_pass(pcm, out));
    if (second_pass_pending()) run_second_pass(out);
  }
}

std::size_t StreamSession::feed_until_second_pass(std::span<const int16_t> pcm, std::vector<StreamResult>& out) {
  Impl& s = *impl_;
  if (s.pass_pending) throw Error("StreamSession: feed while a second pass is pending");
  if (!is_pcm(s.options.wav_format)) return pcm.size();  // FunASR returns no result for any piece
  std::size_t used = 0;
  while (used < pcm.size()) {
    const std::size_t take = std::min(kPieceSamples - s.pending.size(), pcm.size() - used);
    s.pending.insert(s.pending.end(), pcm.begin() + static_cast<std::ptrdiff_t>(used),
                     pcm.begin() + static_cast<std::ptrdiff_t>(used + take));
    used += take;
    if (s.pending.size() < kPieceSamples) break;
    StreamResult r;
    const bool second = s.first_pass(s.pending, false, r);
    s.pending.clear();
    if (second) {
      s.pass_pending = true;
      s.pass_input_finished = false;
      s.pass_result = std::move(r);
      break;
    }
    s.second_pass(false, r);  // no segment ended: only the piece's bookkeeping
    s.deliver(false, r, out);
  }
  return used;
}

bool StreamSession::second_pass_pending() const { return impl_->pass_pending; }

void StreamSession::run_second_pass(std::vector<StreamResult>& out) {
  Impl& s = *impl_;
  if (!s.pass_pending) return;
  s.pass_pending = false;
  StreamResult r = std::move(s.pass_result);
  s.pass_result = StreamResult();
  s.second_pass(s.pass_input_finished, r);
  s.deliver(s.pass_input_finished, r, out);
}

bool StreamSession::begin_finish(std::vector<StreamResult>& out) {
  Impl& s = *impl_;
  if (s.pass_pending) throw Error("StreamSession: finish while a second pass is pending");
  StreamResult r;
  if (!is_pcm(s.options.wav_format)) {
    r.error = kPcmOnlyError;
    r.is_final = true;
    s.end_of_stream();
    out.push_back(std::move(r));
    return true;
  }
  if (s.first_pass(s.pending, true, r)) {
    s.pass_pending = true;
    s.pass_input_finished = true;
    s.pass_result = std::move(r);
    return false;
  }
  s.second_pass(true, r);
  s.deliver(true, r, out);
  return true;
}

void StreamSession::finish(std::vector<StreamResult>& out) {
  if (!begin_finish(out)) run_second_pass(out);
}

std::size_t StreamSession::state_bytes() const {
  const Impl& s = *impl_;
  auto cap = [](const auto& v) { return v.capacity() * sizeof(v[0]); };
  std::size_t punc = cap(s.punc_cache);
  for (const auto& w : s.punc_cache) punc += w.capacity();
  return sizeof(Impl) + s.vad.state_bytes() + s.splitter.state_bytes() + s.online.state_bytes() +
         cap(s.pending) + cap(s.piece_in) + cap(s.piece) + cap(s.edges) +
         cap(s.split_edges) + cap(s.online_frames) + cap(s.offline_frames) + cap(s.frame_buf) +
         punc + cap(s.offline_result.stamps) + s.pass_result.online_text.capacity() +
         s.offline_result.text.capacity();
}

}  // namespace paraserve
