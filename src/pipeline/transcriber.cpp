#include "pipeline/transcriber.h"

#include <algorithm>
#include <chrono>
#include <deque>

#include "common/error.h"
#include "decode/offline_punc_stream.h"
#include "decode/stamp_sents.h"
#include "pipeline/engine_impl.h"
#include "pipeline/itn_stage.h"
#include "pipeline/offline_asr.h"
#include "pipeline/vad_stream.h"

namespace paraserve {

namespace {

constexpr int64_t kSamplesPerMs = 16;
// Audio::CutSplit feeds the VAD 1 s at a time; a piece is the last (input_finished) when
// offset + 16000 >= length - 1, i.e. when at most 16001 samples are left.
constexpr int64_t kVadStep = 16000;
constexpr int64_t kVadLastMax = kVadStep + 1;
// Audio kept behind the VAD's input position outside speech: a segment start reported
// later lies at most the VAD's look-back (a few hundred ms) plus one piece before it.
constexpr int64_t kHistoryMargin = 5 * 16000;
constexpr int64_t kTrimSlack = 4 * 16000;  // erase the dead prefix in steps of at least this

// End of the longest prefix of `text` after which split_stamp_units cannot join a unit with
// what follows: after a space, or after a character that is always a unit of its own
// (U+3000-303F, CJK U+3400-9FFF).
std::size_t safe_unit_end(std::string_view text) {
  std::size_t safe = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b < 0x80) {
      ++i;
      if (b == ' ') safe = i;
    } else if ((b & 0xF0) == 0xE0 && i + 2 < text.size()) {
      const uint32_t cp = ((b & 0x0Fu) << 12) | ((static_cast<unsigned char>(text[i + 1]) & 0x3Fu) << 6) |
                          (static_cast<unsigned char>(text[i + 2]) & 0x3Fu);
      i += 3;
      if ((cp >= 0x3000 && cp <= 0x303F) || (cp >= 0x3400 && cp <= 0x9FFF)) safe = i;
    } else {
      ++i;
    }
  }
  return safe;
}

class CollectSink final : public TranscriptSink {
 public:
  explicit CollectSink(Transcript& t) : t_(t) {}
  void on_segment(const Transcript::Segment& s) override { t_.segments.push_back(s); }
  void on_stamps(std::span<const TokenStamp> s) override { t_.timestamps.insert(t_.timestamps.end(), s.begin(), s.end()); }
  void on_text(std::string_view text) override { t_.text += text; }
  void on_sentence(const SentenceStamp& s) override { t_.stamp_sents.push_back(s); }

 private:
  Transcript& t_;
};

}  // namespace

struct TranscribeStream::Impl {
  Impl(std::shared_ptr<const Engine> e, TranscriptSink& s, const OfflineAsrOptions& o)
      : engine(std::move(e)), sink(s), asr(*engine, o) {
    if (engine->vad) vad = std::make_unique<VadStream>(engine->vad, engine->vad_fbank);
    if (engine->punctuator) punc = std::make_unique<OfflinePuncStream>(*engine->punctuator);
    has_ts = engine->offline_has_timestamps();
    // funasr-onnx-offline always asks for ITN; it runs when the engine has an ITN model (a
    // SenseVoiceSmall model's text is not normalised: its own ITN is svs_itn).
    if (engine->itn && !engine->sensevoice) itn = std::make_unique<ItnTextStream>(*engine->itn, has_ts);
  }

  void accept(std::span<const float> samples) {
    if (finished) throw Error("transcribe: audio after the end of the stream");
    hist.insert(hist.end(), samples.begin(), samples.end());
    total += static_cast<int64_t>(samples.size());
    if (!vad) return;  // one segment: the whole file, at the end
    while (total - vad_pos > kVadLastMax) feed_vad(kVadStep, false);
    trim();
  }

  void finish() {
    if (finished) return;
    finished = true;
    if (vad) {
      if (total > vad_pos) feed_vad(total - vad_pos, true);
    } else if (total > 0) {
      recognize_samples(0, total, 0, total / kSamplesPerMs);  // the whole file, FunASR's one frame
    }
    if (punc) {
      piece.clear();
      punc->finish(piece);
      emit_text(piece);
    }
    if (itn) drain_itn(true);
    sentences(true);
  }

  void feed_vad(int64_t n, bool last) {
    const std::size_t off = static_cast<std::size_t>(vad_pos - hist_base);
    edges.clear();
    vad->accept(std::span<const float>(hist.data() + off, static_cast<std::size_t>(n)), last, edges);
    vad_pos += n;
    // Audio::CutSplit's pairing: a segment is emitted once both a start and an end are known.
    for (const VadSegmentEdge& e : edges) {
      if (e.start_ms != -1) start_ms = e.start_ms;
      if (e.end_ms != -1) end_ms = e.end_ms;
      if (start_ms != -1 && end_ms != -1) {
        recognize(start_ms, end_ms);
        start_ms = -1;
        end_ms = -1;
      }
    }
  }

  // One AudioFrame of FunOfflineInfer: samples [max(0, s*16), e*16).
  void recognize(int64_t s_ms, int64_t e_ms) {
    recognize_samples(std::max<int64_t>(s_ms, 0) * kSamplesPerMs, std::min(e_ms * kSamplesPerMs, total), s_ms, e_ms);
  }

  void recognize_samples(int64_t first, int64_t last, int64_t s_ms, int64_t e_ms) {
    if (last <= first) return;  // FunASR: no frames, an empty result
    if (first < hist_base)
      throw Error("transcribe: internal error: a VAD segment starts before the audio kept (" + std::to_string(s_ms) +
                  " ms)");
    const std::size_t off = static_cast<std::size_t>(first - hist_base);
    auto scratch = engine->offline_scratch->acquire();
    asr.recognize(std::span<const float>(hist.data() + off, static_cast<std::size_t>(last - first)), first / kSamplesPerMs,
                  *scratch, r, engine->server_bias.get());
    sink.on_segment({s_ms, e_ms, r.text});
    if (r.has_timestamps && !r.stamp_seconds.empty()) {
      stamps.clear();
      for (const SecondStamp& x : r.stamp_seconds)
        stamps.push_back({offline_stamp_ms(x.begin, first), offline_stamp_ms(x.end, first)});
      if (itn) {
        itn->add_stamps(stamps);  // re-aligned to the normalised text before they go out
      } else {
        sink.on_stamps(stamps);
        fifo.insert(fifo.end(), stamps.begin(), stamps.end());
      }
      any_stamp = true;
    }
    // FunOfflineInfer concatenates the segment texts as they are (language zh-cn).
    if (punc) {
      piece.clear();
      punc->add(r.text, piece);
      emit_text(piece);
    } else {
      emit_text(r.text);
    }
  }

  void emit_text(const std::string& text) {
    if (text.empty()) return;
    if (itn) {
      itn->add_text(text);
      drain_itn(false);
      return;
    }
    emit_final_text(text);
  }

  // Normalised sentences, with their re-aligned stamps, as they become ready.
  void drain_itn(bool eof) {
    while (itn->take(eof, itn_text, itn_stamps)) {
      if (!itn_stamps.empty()) {
        sink.on_stamps(itn_stamps);
        fifo.insert(fifo.end(), itn_stamps.begin(), itn_stamps.end());
      }
      emit_final_text(itn_text);
    }
  }

  void emit_final_text(const std::string& text) {
    if (text.empty()) return;
    sink.on_text(text);
    if (has_ts) {
      sent_held += text;
      sentences(false);
    }
  }

  // TimestampSentence over the text so far (build_stamp_sents, incrementally): units are
  // taken only up to a point where no unit can continue, and only once enough stamps are
  // queued, so every unit gets the stamp it gets over the whole text.
  void sentences(bool eof) {
    if (!has_ts) return;
    if (!any_stamp) {  // FunASR builds stamp_sents only when there are stamps
      if (eof) sent_held.clear();
      return;
    }
    const std::size_t cut = eof ? sent_held.size() : safe_unit_end(sent_held);
    if (cut > 0) {
      split_stamp_units(std::string_view(sent_held).substr(0, cut), units);
      if (!eof) {
        const auto words = std::count_if(units.begin(), units.end(), [](const std::string& u) { return !is_stamp_punctuation(u); });
        if (static_cast<std::size_t>(words) > fifo.size()) return;  // wait for the stamps of later segments
      }
      for (const std::string& unit : units) {
        if (is_stamp_punctuation(unit)) {
          sink.on_sentence(sentence.close(unit));
        } else if (!fifo.empty()) {
          sentence.add_word(unit, fifo.front());
          fifo.pop_front();
        }
      }
      sent_held.erase(0, cut);
    }
    if (eof && sentence.finish(tail)) sink.on_sentence(tail);
  }

  // Drops audio that no segment can need any more.
  void trim() {
    int64_t keep = start_ms != -1 ? std::max<int64_t>(start_ms, 0) * kSamplesPerMs : vad_pos - kHistoryMargin;
    keep = std::min(keep, vad_pos - kHistoryMargin);
    if (keep - hist_base < kTrimSlack) return;
    hist.erase(hist.begin(), hist.begin() + static_cast<std::ptrdiff_t>(keep - hist_base));
    hist_base = keep;
  }

  std::shared_ptr<const Engine> engine;
  TranscriptSink& sink;
  OfflineAsr asr;
  OfflineAsrResult r;
  std::unique_ptr<VadStream> vad;
  std::unique_ptr<OfflinePuncStream> punc;
  std::unique_ptr<ItnTextStream> itn;
  std::string itn_text;
  std::vector<TokenStamp> itn_stamps;
  bool has_ts = false;
  bool finished = false;

  std::vector<float> hist;  // samples [hist_base, total)
  int64_t hist_base = 0, total = 0, vad_pos = 0;
  std::vector<VadSegmentEdge> edges;
  int64_t start_ms = -1, end_ms = -1;

  std::string piece;
  std::vector<TokenStamp> stamps;
  std::string sent_held;
  std::deque<TokenStamp> fifo;
  bool any_stamp = false;
  SentenceStampBuilder sentence;
  SentenceStamp tail;
  std::vector<std::string> units;
};

TranscribeStream::TranscribeStream(std::shared_ptr<const Engine> engine, TranscriptSink& sink,
                                   const OfflineAsrOptions& options)
    : impl_(std::make_unique<Impl>(std::move(engine), sink, options)) {}
TranscribeStream::~TranscribeStream() = default;
void TranscribeStream::accept(std::span<const float> samples) { impl_->accept(samples); }
void TranscribeStream::finish() { impl_->finish(); }
double TranscribeStream::duration_s() const { return static_cast<double>(impl_->total) / 16000.0; }

std::size_t TranscribeStream::state_bytes() const {
  const Impl& m = *impl_;
  // The offline pass's buffers are borrowed per segment from the engine's pool, not owned.
  std::size_t b = m.hist.capacity() * sizeof(float) + m.sent_held.capacity() + m.fifo.size() * sizeof(TokenStamp);
  if (m.vad) b += m.vad->state_bytes();
  if (m.punc) b += m.punc->state_bytes();
  if (m.itn) b += m.itn->state_bytes() + m.itn_text.capacity() + m.itn_stamps.capacity() * sizeof(TokenStamp);
  return b;
}

Transcriber::Transcriber(std::shared_ptr<const Engine> engine, const OfflineAsrOptions& options)
    : engine_(std::move(engine)), options_(options) {
  engine_->require_offline("transcribe");
}

std::unique_ptr<TranscribeStream> Transcriber::stream(TranscriptSink& sink) const {
  return std::make_unique<TranscribeStream>(engine_, sink, options_);
}

Transcript Transcriber::transcribe(std::span<const float> samples) const {
  const auto t0 = std::chrono::steady_clock::now();
  Transcript out;
  CollectSink sink(out);
  TranscribeStream s(engine_, sink, options_);
  s.accept(samples);
  s.finish();
  out.duration_s = s.duration_s();
  out.processing_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace paraserve
