#include "server/connection.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

namespace paraserve::server {
namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {
constexpr std::size_t kPieceBytes = 1600;  // FunASR's 800-sample piece
// Audio is handed to the recognizer in slices of at most this many samples, so the sample
// buffer stays 16 KB however much audio a fast client queued (memory per connection must
// not follow the client's send rate).
constexpr std::size_t kFeedSamples = 8000;
// Emptied audio buffers kept for reuse only up to this capacity; a burst's big buffer is freed.
constexpr std::size_t kSpareMaxBytes = 64 * 1024;
double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
}  // namespace

// ---------------------------------------------------------------- ServerContext

std::string ServerContext::try_admit(const std::shared_ptr<ConnectionCore>& core, uint64_t& id) {
  std::lock_guard lock(mu);
  if (draining) return "server is shutting down; reconnect to another instance";
  if (sessions.size() >= static_cast<std::size_t>(config.limits.max_sessions))
    return "server is at capacity (--max-sessions " + std::to_string(config.limits.max_sessions) +
           "); try again later";
  id = next_id++;
  sessions.emplace(id, core);
  return {};
}

void ServerContext::release(uint64_t id) {
  std::lock_guard lock(mu);
  sessions.erase(id);
  if (sessions.empty()) cv.notify_all();
}

// ---------------------------------------------------------------- ConnectionCore: I/O side

ConnectionCore::ConnectionCore(ServerContext& ctx, net::any_io_executor io_executor)
    : ctx_(ctx), io_(std::move(io_executor)) {}

ConnectionCore::~ConnectionCore() {
  if (id_ == 0) return;
  if (ctx_.metrics) ctx_.metrics->sessions_active.dec();
  recognizer_.reset();  // conn_close is documented as "session state destroyed"
  ledger_.record(Phase::kConnClose, {.audio_ms = -1, .bytes = static_cast<int64_t>(audio_bytes_)});
  ctx_.release(id_);
}

bool ConnectionCore::admit() {
  const std::string why = ctx_.try_admit(shared_from_this(), id_);
  if (!why.empty()) {
    if (ctx_.metrics) ctx_.metrics->sessions_rejected.inc();
    send(format_error(params_.wav_name, why));
    close_after_flush(CloseCode::kTryAgainLater);
    return false;
  }
  if (ctx_.metrics) {
    ctx_.metrics->sessions_active.inc();
    ctx_.metrics->sessions_total.inc();
  }
  ledger_ = LedgerSession(ctx_.ledger, id_);
  ledger_.record(Phase::kConnOpen);
  return true;
}

void ConnectionCore::fail(const std::string& error, CloseCode code) {
  if (ctx_.metrics) ctx_.metrics->protocol_errors.inc();
  ctx_.log_protocol.log(spdlog::level::info, "connection {}: {}", id_, error);
  send(format_error(params_.wav_name, error));
  close_after_flush(code);
}

void ConnectionCore::on_text(std::string_view text) {
  const bool was_configured = params_.configured;
  const MessageOutcome out = apply_text_message(text, params_);
  if (!out.error.empty()) {
    if (out.close) {
      fail(out.error, out.error.starts_with("field 'wav_format'") ? CloseCode::kUnsupported
                                                                   : CloseCode::kInvalidPayload);
    } else {
      if (ctx_.metrics) ctx_.metrics->protocol_errors.inc();
      ctx_.log_protocol.log(spdlog::level::info, "connection {}: {}", id_, out.error);
      send(format_error(params_.wav_name, out.error));
    }
    return;
  }
  if (!was_configured && params_.configured && !prebuf_.empty()) {
    // FunASR keeps the sub-1600-byte remainder of early audio.
    std::vector<uint8_t> early;
    early.swap(prebuf_);
    on_binary(early);  // may pause reading; the worker resumes it
  }
  // A configured client that has not ended its utterance is inside one (a drain lets it finish).
  if (!out.end_of_stream && params_.configured) utterance_open_ = true;
  if (out.end_of_stream) {
    utterance();  // an utterance without audio still gets its settings (wav_format error, ...)
    enqueue_finish();
    utt_.reset();
    params_.next_utterance();
    utterance_open_ = false;
    ++finals_owed_;
  }
}

const UtteranceSettings& ConnectionCore::utterance() {
  if (!utt_) utt_ = params_.settings();
  return *utt_;
}

bool ConnectionCore::on_binary(std::span<const uint8_t> data) {
  if (data.empty()) return true;
  if (!params_.configured) {
    // FunASR discards audio that arrives before the first JSON message, except the part of
    // the buffer below one 1600-byte piece.
    prebuf_.insert(prebuf_.end(), data.begin(), data.end());
    if (prebuf_.size() > kPieceBytes)
      prebuf_.erase(prebuf_.begin(), prebuf_.begin() + static_cast<std::ptrdiff_t>(prebuf_.size() / kPieceBytes * kPieceBytes));
    return true;
  }
  audio_bytes_ += data.size();
  // Counted as decoded audio duration: the bytes at the rate this utterance is decoded at.
  audio_s_ += static_cast<double>(data.size()) / (2.0 * utterance().audio_fs);
  const double limit_s = ctx_.config.limits.max_session_audio_s;
  if (limit_s > 0 && audio_s_ > limit_s) {
    char limit[32];
    std::snprintf(limit, sizeof limit, "%g", limit_s);
    fail(std::string("audio limit reached: this connection sent more than ") + limit +
             " s of audio (--max-session-audio)",
         CloseCode::kPolicy);
    return false;
  }
  if (first_audio_) {
    first_audio_ = false;
    ledger_.record(Phase::kFirstAudio, {.bytes = static_cast<int64_t>(data.size())});
  }
  utterance_open_ = true;
  return enqueue_audio(data);
}

void ConnectionCore::on_socket_closed() {
  closed_.store(true, std::memory_order_relaxed);
}

void ConnectionCore::begin_drain() {
  draining_ = true;
  maybe_close_drained();
}

void ConnectionCore::maybe_close_drained() {
  if (draining_ && !utterance_open_ && finals_owed_ == 0) close_after_flush(CloseCode::kGoingAway);
}

void ConnectionCore::on_final_delivered() {
  if (finals_owed_ > 0) --finals_owed_;
  if (finals_owed_ == 0) resume_reading();  // reading waits for the final (awaiting_final)
  maybe_close_drained();
}

ConnectionCore::Segment& ConnectionCore::open_segment_locked() {
  const Mode mode = parse_mode(params_.mode).value_or(Mode::kTwoPass);
  if (inbox_.empty() || inbox_.back().finish || inbox_.back().mode != mode ||
      inbox_.back().wav_name != params_.wav_name) {
    Segment seg;
    if (!spare_.empty()) {
      seg.bytes = std::move(spare_.back());
      spare_.pop_back();
    }
    seg.mode = mode;
    seg.settings = utterance();
    seg.wav_name = params_.wav_name;
    seg.audio_arrival = Clock::now();
    inbox_.push_back(std::move(seg));
    if (ctx_.metrics) ctx_.metrics->work_queue_depth.inc();
  }
  return inbox_.back();
}

void ConnectionCore::schedule_locked() {
  if (scheduled_) return;
  scheduled_ = true;
  ctx_.scheduler->post(shared_from_this(), WorkClass::kPartial);
}

bool ConnectionCore::enqueue_audio(std::span<const uint8_t> data) {
  std::lock_guard lock(mu_);
  Segment& seg = open_segment_locked();
  if (seg.bytes.empty()) seg.audio_arrival = Clock::now();
  seg.bytes.insert(seg.bytes.end(), data.begin(), data.end());
  pending_bytes_ += data.size();
  schedule_locked();
  // Backpressure: stop reading the socket while too much audio waits for the decoder.
  if (pending_bytes_ > ctx_.config.limits.max_pending_bytes) paused_ = true;
  return !paused_;
}

void ConnectionCore::enqueue_finish() {
  std::lock_guard lock(mu_);
  Segment& seg = open_segment_locked();
  seg.finish = true;
  seg.finish_arrival = Clock::now();
  schedule_locked();
}

// ---------------------------------------------------------------- worker side

void ConnectionCore::post_to_io_send(std::string message) {
  net::post(io_, [self = shared_from_this(), m = std::move(message)]() mutable { self->send(std::move(m)); });
}

std::optional<WorkClass> ConnectionCore::drop_all() {
  cur_.reset();
  finishing_ = false;
  std::lock_guard lock(mu_);
  if (ctx_.metrics) ctx_.metrics->work_queue_depth.add(-static_cast<double>(inbox_.size()));
  inbox_.clear();
  scheduled_ = false;
  return std::nullopt;
}

std::optional<WorkClass> ConnectionCore::next_task() {
  if (closed_.load(std::memory_order_relaxed)) return drop_all();
  if (cur_) return WorkClass::kPartial;  // the rest of the batch (after its second pass)
  std::lock_guard lock(mu_);
  if (inbox_.empty()) {
    scheduled_ = false;
    return std::nullopt;
  }
  return WorkClass::kPartial;
}

std::optional<WorkClass> ConnectionCore::run_work(WorkClass cls) {
  if (closed_.load(std::memory_order_relaxed)) return drop_all();
  if (cls == WorkClass::kSecondPass) {
    // A finished segment's second pass: its own task, taken after waiting partial work
    // (WorkScheduler). The rest of the batch is fed by a later partial task.
    second_pass_step();
    return next_task();
  }
  // One batch per task, so one busy connection cannot hold a decoder thread forever, with one
  // exception: when the batch queued next ends the utterance, it is decoded in the same task
  // (at most two batches, each <= --max-pending-bytes + one read piece). Yielding there would
  // keep the utterance's whole state (the segment's audio history, the decoder caches, the
  // queued tail) resident while every other connection takes its turn: a burst of
  // fast-sending clients would then all sit mid-utterance at once, each holding its segment.
  // A second pass ends the task too (it runs as its own, lower-priority task).
  for (;;) {
    if (!cur_) {
      bool resume = false;
      {
        std::lock_guard lock(mu_);
        if (inbox_.empty() || closed_.load(std::memory_order_relaxed)) {
          if (ctx_.metrics) ctx_.metrics->work_queue_depth.add(-static_cast<double>(inbox_.size()));
          inbox_.clear();
          scheduled_ = false;
          return std::nullopt;
        }
        cur_.emplace(std::move(inbox_.front()));
        inbox_.pop_front();
        pending_bytes_ -= cur_->bytes.size();
        if (paused_ && pending_bytes_ <= ctx_.config.limits.max_pending_bytes / 2) {
          paused_ = false;
          resume = true;
        }
      }
      cur_off_ = 0;
      cur_fed_ = 0;
      cur_started_ = false;
      cur_fed_all_ = false;
      if (ctx_.metrics) ctx_.metrics->work_queue_depth.dec();
      if (resume) net::post(io_, [self = shared_from_this()] { self->resume_reading(); });
    }

    if (step_segment()) return WorkClass::kSecondPass;
    if (!cur_) return next_task();  // decoding failed
    const bool was_finish = cur_->finish;
    done_with_segment();

    std::lock_guard lock(mu_);
    if (inbox_.empty() || closed_.load(std::memory_order_relaxed)) {
      scheduled_ = false;
      return std::nullopt;
    }
    if (!was_finish && inbox_.front().finish) continue;  // the utterance's end: decode it now
    return WorkClass::kPartial;
  }
}

void ConnectionCore::done_with_segment() {
  Segment& seg = *cur_;
  seg.bytes.clear();
  {
    std::lock_guard lock(mu_);
    if (spare_.size() < 2 && seg.bytes.capacity() <= kSpareMaxBytes) spare_.push_back(std::move(seg.bytes));
  }
  cur_.reset();
}

void ConnectionCore::decoding_failed(const std::exception& e) {
  ctx_.log_decode.log(spdlog::level::err, "connection {}: decoding failed: {}", id_, e.what());
  closed_.store(true, std::memory_order_relaxed);
  cur_.reset();
  finishing_ = false;
  net::post(io_, [self = shared_from_this(), msg = std::string("decoding failed: ") + e.what()] {
    self->fail(msg, CloseCode::kPolicy);
  });
}

void ConnectionCore::emit(const StreamResult& r, const Segment& seg, Clock::time_point arrival) {
  std::string reply = format_result(r, seg.mode, seg.wav_name, reply_state_);
  if (reply.empty()) return;
  if (ctx_.metrics) {
    auto& h = r.is_final ? ctx_.metrics->final_latency : ctx_.metrics->partial_latency;
    h.observe(seconds(Clock::now() - arrival));
  }
  if (r.has_offline) ledger_.record(Phase::kOfflineEnd, {.state_bytes = -1});
  post_to_io_send(std::move(reply));
}

bool ConnectionCore::step_segment() {
  Segment& seg = *cur_;
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
        if (!recognizer_ || !(recognizer_settings_ == seg.settings)) {
          recognizer_.reset();
          SessionOptions options = session_options(seg.settings, seg.mode);
          if (ledger_.ledger) {  // only with --memtrace: the session then reports its inner phases
            ledger_observer_.ledger = &ledger_;
            options.observer = &ledger_observer_;
          }
          recognizer_ = ctx_.factory(options);
          recognizer_settings_ = seg.settings;
        }
        in_utterance_ = true;
        utt_rate_ = seg.settings.audio_fs;
      }
      recognizer_->set_mode(seg.mode);
    }
    if (!cur_fed_all_) {
      if (feed_segment(seg)) {
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
                       .bytes = static_cast<int64_t>(seg.bytes.size()),
                       .state_bytes = static_cast<int64_t>(recognizer_->state_bytes())});
      }
    }

    if (seg.finish) {
      has_carry_ = false;  // FunASR drops a half sample at the end of a stream
      results_.clear();
      if (!recognizer_->begin_finish(results_)) {  // the last piece's second pass is pending
        finishing_ = true;
        utt_compute_ += Clock::now() - t0;
        return true;
      }
      complete_finish(seg, t0);
      return false;
    }
  } catch (const std::exception& e) {
    decoding_failed(e);
    return false;
  }
  utt_compute_ += Clock::now() - t0;
  return false;
}

bool ConnectionCore::feed_segment(Segment& seg) {
  // Bytes -> little-endian int16 samples, carrying an odd trailing byte to the next frame,
  // fed in bounded slices. When the recognizer stops for a second pass, the samples it did
  // not take are given back (cur_off_ moves back) and fed after the second pass.
  const uint8_t* base = seg.bytes.data();
  const std::size_t size = seg.bytes.size();
  while (cur_off_ < size) {
    std::size_t n = size - cur_off_;
    if (!has_carry_ && n == 1) {
      has_carry_ = true;
      carry_ = base[cur_off_];
      cur_off_ = size;
      break;
    }
    samples_.clear();
    const bool carry_sample = has_carry_;
    if (has_carry_) {
      samples_.push_back(
          static_cast<int16_t>(static_cast<uint16_t>(carry_) | (static_cast<uint16_t>(base[cur_off_]) << 8)));
      ++cur_off_;
      --n;
      has_carry_ = false;
    }
    const std::size_t take = std::min(n / 2, kFeedSamples);
    const std::size_t old = samples_.size();
    samples_.resize(old + take);
    if (take) std::memcpy(samples_.data() + old, base + cur_off_, take * 2);
    cur_off_ += take * 2;
    results_.clear();
    const std::size_t used = recognizer_->feed_until_second_pass(samples_, results_);
    cur_fed_ += used;
    for (const auto& r : results_) emit(r, seg, seg.audio_arrival);
    const bool pending = recognizer_->second_pass_pending();
    if (used < samples_.size()) {
      if (!pending)
        throw std::logic_error("recognizer took " + std::to_string(used) + " of " + std::to_string(samples_.size()) +
                               " samples without a pending second pass");
      std::size_t left = samples_.size() - used;
      if (carry_sample && used == 0) {  // the carried byte goes back to the carry
        has_carry_ = true;
        --cur_off_;
        --left;
      }
      cur_off_ -= left * 2;
    }
    if (pending) return true;
  }
  return false;
}

void ConnectionCore::second_pass_step() {
  Segment& seg = *cur_;
  const auto t0 = Clock::now();
  std::optional<WorkActivity::Scope> busy;
  if (ctx_.activity) busy.emplace(*ctx_.activity);
  try {
    results_.clear();
    recognizer_->run_second_pass(results_);
    if (finishing_) {
      finishing_ = false;
      complete_finish(seg, t0);
      done_with_segment();
      return;
    }
    for (const auto& r : results_) emit(r, seg, seg.audio_arrival);
  } catch (const std::exception& e) {
    decoding_failed(e);
    return;
  }
  utt_compute_ += Clock::now() - t0;
}

void ConnectionCore::complete_finish(Segment& seg, Clock::time_point t0) {
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
  for (const auto& r : results_) emit(r, seg, seg.finish_arrival);
  net::post(io_, [self = shared_from_this()] { self->on_final_delivered(); });
}

}  // namespace paraserve::server
