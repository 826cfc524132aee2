#include "pipeline/transcriber.h"

#include <chrono>

#include "decode/stamp_sents.h"
#include "pipeline/engine_impl.h"
#include "pipeline/offline_asr.h"
#include "pipeline/vad_stream.h"

namespace paraserve {

Transcriber::Transcriber(std::shared_ptr<const Engine> engine) : engine_(std::move(engine)) {
  engine_->require_offline("transcribe");
}

Transcript Transcriber::transcribe(std::span<const float> samples) const {
  const auto t0 = std::chrono::steady_clock::now();
  Transcript out;
  out.duration_s = static_cast<double>(samples.size()) / 16000.0;
  std::vector<std::pair<int64_t, int64_t>> segs;
  if (engine_->vad) {
    segs = vad_segments_offline(*engine_->vad, samples);
  } else if (!samples.empty()) {
    segs.push_back({0, static_cast<int64_t>(samples.size()) / 16});
  }
  OfflineAsr asr(*engine_);
  OfflineAsrResult r;
  std::string raw;
  for (const auto& [s, e] : segs) {
    const std::size_t first = std::min(samples.size(), static_cast<std::size_t>(std::max<int64_t>(s, 0)) * 16);
    const std::size_t last = std::min(samples.size(), static_cast<std::size_t>(std::max<int64_t>(e, 0)) * 16);
    if (last <= first) continue;
    asr.recognize(samples.subspan(first, last - first), s, r);
    out.segments.push_back({s, e, r.text});
    // Segment texts are joined as FunASR's offline runtime does; English words at a segment
    // boundary get a space so they do not merge.
    if (!raw.empty() && !r.text.empty() && static_cast<unsigned char>(raw.back()) < 0x80 &&
        static_cast<unsigned char>(r.text.front()) < 0x80 && raw.back() != ' ')
      raw += ' ';
    raw += r.text;
    out.timestamps.insert(out.timestamps.end(), r.stamps.begin(), r.stamps.end());
  }
  out.text = (engine_->punctuator && !raw.empty()) ? engine_->punctuator->punctuate_offline(raw) : raw;
  if (!out.timestamps.empty()) out.stamp_sents = build_stamp_sents(out.text, out.timestamps);
  out.processing_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace paraserve
