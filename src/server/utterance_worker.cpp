#include "server/utterance_worker.h"

#include <algorithm>
#include <cstring>
#include <exception>
#include <stdexcept>

#include "server/connection.h"  // ServerContext

namespace paraserve::server {
using Clock = std::chrono::steady_clock;

namespace {
// Audio is handed to the recognizer in slices of at most this many samples, so the sample
// buffer stays 16 KB however much audio a fast client queued (memory per connection must
// not follow the client's send rate).
constexpr std::size_t kFeedSamples = 8000;
double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
}  // namespace

UtteranceWorker::UtteranceWorker(ServerContext& ctx, WorkerOutput& out, AudioSource& audio, LedgerSession& ledger)
    : ctx_(ctx), out_(out), audio_(audio), ledger_(ledger) {
  samples_.reserve(kFeedSamples + 1);
}

UtteranceWorker::~UtteranceWorker() = default;

void UtteranceWorker::start_batch(AudioBatch&& batch) {
  cur_.emplace(std::move(batch));
  cur_off_ = 0;
  cur_fed_ = 0;
  cur_started_ = false;
  cur_fed_all_ = false;
  cur_done_ = false;
}

AudioBatch UtteranceWorker::take_done_batch() {
  AudioBatch b = std::move(*cur_);
  cur_.reset();
  return b;
}

void UtteranceWorker::drop_batch() {
  if (cur_ && cur_off_ < cur_->bytes) audio_.consume_audio(cur_->bytes - cur_off_);
  cur_.reset();
  finishing_ = false;
}

void UtteranceWorker::failed(const std::exception& e) {
  drop_batch();
  out_.decoding_failed(e.what());
}

bool UtteranceWorker::step() {
  AudioBatch& batch = *cur_;
  const auto t0 = Clock::now();
  std::optional<WorkActivity::Scope> busy;  // the idle purger's view of model work
  if (ctx_.activity) busy.emplace(*ctx_.activity);
  try {
    if (!cur_started_) {
      cur_started_ = true;
      if (!in_utterance_) {
        // First batch of an utterance: decode it exactly as on a fresh connection. The
        // recognizer resets itself after each final, so it is reused while the settings
        // stay the same and rebuilt for an utterance with other settings.
        if (!recognizer_ || !(recognizer_settings_ == batch.settings)) {
          recognizer_.reset();
          SessionOptions options = session_options(batch.settings, batch.mode);
          if (ledger_.ledger) {  // only with --memtrace: the session then reports its inner phases
            ledger_observer_.ledger = &ledger_;
            options.observer = &ledger_observer_;
          }
          recognizer_ = ctx_.factory(options);
          recognizer_settings_ = batch.settings;
        }
        in_utterance_ = true;
        utt_rate_ = batch.settings.audio_fs;
      }
      recognizer_->set_mode(batch.mode);
    }
    if (!cur_fed_all_) {
      if (feed_batch(batch)) {
        utt_compute_ += Clock::now() - t0;
        return true;
      }
      cur_fed_all_ = true;
      if (cur_fed_ > 0) {
        utt_samples_ += cur_fed_;
        // Milliseconds at this utterance's own rate; the counter gets whole ms as they complete.
        const auto before = static_cast<uint64_t>(total_ms_);
        total_ms_ += static_cast<double>(cur_fed_) * 1000.0 / utt_rate_;
        if (ctx_.metrics) ctx_.metrics->audio_ms.inc(static_cast<uint64_t>(total_ms_) - before);
        ledger_.chunk({.audio_ms = static_cast<int64_t>(total_ms_),
                       .bytes = static_cast<int64_t>(batch.bytes),
                       .state_bytes = static_cast<int64_t>(recognizer_->state_bytes())});
      }
    }

    if (batch.finish) {
      has_carry_ = false;  // FunASR drops a half sample at the end of a stream
      results_.clear();
      if (!recognizer_->begin_finish(results_)) {  // the last piece's second pass is pending
        finishing_ = true;
        utt_compute_ += Clock::now() - t0;
        return true;
      }
      complete_finish(batch, t0);
      cur_done_ = true;
      return false;
    }
  } catch (const std::exception& e) {
    failed(e);
    return false;
  }
  utt_compute_ += Clock::now() - t0;
  cur_done_ = true;
  return false;
}

bool UtteranceWorker::feed_batch(AudioBatch& batch) {
  // Bytes -> little-endian int16 samples, carrying an odd trailing byte to the next batch,
  // fed in bounded slices copied from the audio source. Only the bytes of the samples the
  // recognizer took are consumed: when it stops for a second pass, the rest stays in the
  // source and is fed after the second pass.
  while (cur_off_ < batch.bytes) {
    const std::size_t n = batch.bytes - cur_off_;
    if (!has_carry_ && n == 1) {
      audio_.peek_audio(0, 1, &carry_);
      audio_.consume_audio(1);
      has_carry_ = true;
      cur_off_ = batch.bytes;
      break;
    }
    // The bytes go straight into the sample buffer (little-endian int16, as before).
    const bool carry_sample = has_carry_;
    const std::size_t want = std::min(n, 2 * kFeedSamples + (carry_sample ? 1 : 0));
    std::size_t pos = 0;
    samples_.clear();
    if (carry_sample) {
      uint8_t high = 0;
      audio_.peek_audio(0, 1, &high);
      samples_.push_back(static_cast<int16_t>(static_cast<uint16_t>(carry_) | (static_cast<uint16_t>(high) << 8)));
      pos = 1;
      has_carry_ = false;
    }
    const std::size_t take = (want - pos) / 2;
    const std::size_t old = samples_.size();
    samples_.resize(old + take);
    if (take) audio_.peek_audio(pos, take * 2, reinterpret_cast<uint8_t*>(samples_.data() + old));
    pos += take * 2;
    results_.clear();
    const std::size_t used = recognizer_->feed_until_second_pass(samples_, results_);
    cur_fed_ += used;
    const bool pending = recognizer_->second_pass_pending();
    std::size_t consumed = pos;  // every byte copied into samples_
    if (used < samples_.size()) {
      if (!pending)
        throw std::logic_error("recognizer took " + std::to_string(used) + " of " + std::to_string(samples_.size()) +
                               " samples without a pending second pass");
      if (carry_sample) {
        if (used == 0) {
          has_carry_ = true;  // the carried byte goes back to the carry
          consumed = 0;
        } else {
          consumed = 1 + (used - 1) * 2;
        }
      } else {
        consumed = used * 2;
      }
    }
    audio_.consume_audio(consumed);
    cur_off_ += consumed;
    for (const auto& r : results_) emit(r, batch, batch.audio_arrival);
    if (pending) return true;
  }
  return false;
}

void UtteranceWorker::second_pass() {
  AudioBatch& batch = *cur_;
  const auto t0 = Clock::now();
  std::optional<WorkActivity::Scope> busy;
  if (ctx_.activity) busy.emplace(*ctx_.activity);
  try {
    results_.clear();
    recognizer_->run_second_pass(results_);
    if (finishing_) {
      finishing_ = false;
      complete_finish(batch, t0);
      cur_done_ = true;
      return;
    }
    for (const auto& r : results_) emit(r, batch, batch.audio_arrival);
  } catch (const std::exception& e) {
    failed(e);
    return;
  }
  utt_compute_ += Clock::now() - t0;
}

void UtteranceWorker::complete_finish(AudioBatch& batch, Clock::time_point t0) {
  const bool has_final = std::any_of(results_.begin(), results_.end(), [](const auto& r) { return r.is_final; });
  if (!has_final) {
    results_.emplace_back();
    results_.back().is_final = true;
  }
  // Metrics first: once the final reply is out, a client may read them at once.
  utt_compute_ += Clock::now() - t0;
  if (ctx_.metrics) {
    ctx_.metrics->utterances.inc();
    if (utt_samples_ > 0)
      ctx_.metrics->rtf.observe(seconds(utt_compute_) / (static_cast<double>(utt_samples_) / utt_rate_));
  }
  ledger_.record(Phase::kFinalSent, {.state_bytes = static_cast<int64_t>(recognizer_->state_bytes())});
  ledger_.record(Phase::kUtteranceReset);
  utt_compute_ = {};
  utt_samples_ = 0;
  in_utterance_ = false;
  for (const auto& r : results_) emit(r, batch, batch.finish_arrival);
  out_.final_sent();
}

void UtteranceWorker::emit(const StreamResult& r, const AudioBatch& batch, Clock::time_point arrival) {
  std::string reply = format_result(r, batch.mode, batch.wav_name, reply_state_);
  if (reply.empty()) return;
  if (ctx_.metrics) {
    auto& h = r.is_final ? ctx_.metrics->final_latency : ctx_.metrics->partial_latency;
    h.observe(seconds(Clock::now() - arrival));
  }
  if (r.has_offline) ledger_.record(Phase::kOfflineEnd, {.state_bytes = -1});
  out_.send_reply(std::move(reply));
}

}  // namespace paraserve::server
