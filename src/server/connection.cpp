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
// The audio FIFO: block size, and room past --max-pending-bytes for what arrives before reading
// pauses (one transport read piece, 16 KiB; a flushed pre-configuration remainder, < 1600 B).
constexpr std::size_t kAudioBlockBytes = 16 * 1024;
constexpr std::size_t kFifoSlackBytes = 128 * 1024;
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
    : ctx_(ctx),
      io_(std::move(io_executor)),
      audio_(kAudioBlockBytes, ctx.config.limits.max_pending_bytes + kFifoSlackBytes, 1),
      worker_(ctx, *this, *this, ledger_) {}

ConnectionCore::~ConnectionCore() {
  if (id_ == 0) return;
  if (ctx_.metrics) ctx_.metrics->sessions_active.dec();
  worker_.release_recognizer();  // conn_close is documented as "session state destroyed"
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

AudioBatch& ConnectionCore::open_batch_locked() {
  const Mode mode = parse_mode(params_.mode).value_or(Mode::kTwoPass);
  if (inbox_.empty() || inbox_.back().finish || inbox_.back().mode != mode ||
      inbox_.back().wav_name != params_.wav_name) {
    AudioBatch seg;
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
  std::unique_lock lock(mu_);
  if (data.size() > audio_.free_space()) {
    // Only a transport that keeps reading while paused gets here; nothing is dropped silently.
    lock.unlock();
    fail("too much undecoded audio: " + std::to_string(audio_.size() + data.size()) +
             " bytes queued while reading was paused (--max-pending-bytes " +
             std::to_string(ctx_.config.limits.max_pending_bytes) + ")",
         CloseCode::kTooBig);
    return false;
  }
  AudioBatch& seg = open_batch_locked();
  if (seg.bytes == 0) seg.audio_arrival = Clock::now();
  audio_.push(data);
  seg.bytes += data.size();
  pending_bytes_ += data.size();
  schedule_locked();
  // Backpressure: stop reading the socket while too much audio waits for the decoder.
  if (pending_bytes_ > ctx_.config.limits.max_pending_bytes) paused_ = true;
  return !paused_;
}

void ConnectionCore::enqueue_finish() {
  std::lock_guard lock(mu_);
  AudioBatch& seg = open_batch_locked();
  seg.finish = true;
  seg.finish_arrival = Clock::now();
  schedule_locked();
}

// ---------------------------------------------------------------- worker side

void ConnectionCore::post_to_io_send(std::string message) {
  net::post(io_, [self = shared_from_this(), m = std::move(message)]() mutable { self->send(std::move(m)); });
}

void ConnectionCore::send_reply(std::string message) { post_to_io_send(std::move(message)); }

void ConnectionCore::final_sent() {
  net::post(io_, [self = shared_from_this()] { self->on_final_delivered(); });
}

void ConnectionCore::decoding_failed(const std::string& what) {
  ctx_.log_decode.log(spdlog::level::err, "connection {}: decoding failed: {}", id_, what);
  closed_.store(true, std::memory_order_relaxed);
  net::post(io_, [self = shared_from_this(), msg = "decoding failed: " + what] { self->fail(msg, CloseCode::kPolicy); });
}

void ConnectionCore::forget_queued_locked() {
  if (ctx_.metrics) ctx_.metrics->work_queue_depth.add(-static_cast<double>(inbox_.size()));
  inbox_.clear();
  audio_.clear();
  pending_bytes_ = 0;
  scheduled_ = false;
}

std::optional<WorkClass> ConnectionCore::drop_all() {
  worker_.drop_batch();
  std::lock_guard lock(mu_);
  forget_queued_locked();
  return std::nullopt;
}

std::optional<WorkClass> ConnectionCore::next_task() {
  if (closed_.load(std::memory_order_relaxed)) return drop_all();
  if (worker_.has_batch()) return WorkClass::kPartial;  // the rest of the batch (after its second pass)
  std::lock_guard lock(mu_);
  if (inbox_.empty()) {
    scheduled_ = false;
    return std::nullopt;
  }
  return WorkClass::kPartial;
}

void ConnectionCore::peek_audio(std::size_t offset, std::size_t n, uint8_t* out) {
  std::lock_guard lock(mu_);
  audio_.copy_out(offset, n, out);
}

void ConnectionCore::consume_audio(std::size_t n) {
  bool resume = false;
  {
    std::lock_guard lock(mu_);
    n = std::min(n, audio_.size());  // drop_all() may have emptied it already
    audio_.pop(n);
    pending_bytes_ -= n;
    // Reading resumes once half of the bound is decoded: --max-pending-bytes bounds all the
    // audio a connection holds, the unconsumed rest of the batch in hand included.
    if (paused_ && pending_bytes_ <= ctx_.config.limits.max_pending_bytes / 2) {
      paused_ = false;
      resume = true;
    }
  }
  if (resume) net::post(io_, [self = shared_from_this()] { self->resume_reading(); });
}

std::optional<WorkClass> ConnectionCore::run_work(WorkClass cls) {
  if (closed_.load(std::memory_order_relaxed)) return drop_all();
  if (cls == WorkClass::kSecondPass) {
    // A finished segment's second pass: its own task, taken after waiting partial work
    // (WorkScheduler). The rest of the batch is fed by a later partial task.
    worker_.second_pass();
    if (worker_.has_batch() && worker_.batch_done()) worker_.take_done_batch();
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
    if (!worker_.has_batch()) {
      {
        std::lock_guard lock(mu_);
        if (inbox_.empty() || closed_.load(std::memory_order_relaxed)) {
          forget_queued_locked();
          return std::nullopt;
        }
        worker_.start_batch(std::move(inbox_.front()));
        inbox_.pop_front();
      }
      if (ctx_.metrics) ctx_.metrics->work_queue_depth.dec();
    }

    if (worker_.step()) return WorkClass::kSecondPass;
    if (!worker_.has_batch()) return next_task();  // decoding failed
    const bool was_finish = worker_.take_done_batch().finish;

    std::lock_guard lock(mu_);
    if (inbox_.empty() || closed_.load(std::memory_order_relaxed)) {
      scheduled_ = false;
      return std::nullopt;
    }
    if (!was_finish && inbox_.front().finish) continue;  // the utterance's end: decode it now
    return WorkClass::kPartial;
  }
}

}  // namespace paraserve::server
