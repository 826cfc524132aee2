// The memory ledger ("memtrace"): an opt-in NDJSON log of process memory at each phase of
// a connection's life, for finding which phase leaves memory behind (docs/memory-ledger.md).
//
// Producer side (audio path): record() stamps a fixed-size event and pushes it into a
// pre-allocated bounded lock-free queue. It never blocks, allocates or does I/O; when the
// queue is full the event is dropped and counted. One background writer thread drains
// the queue, reads RSS and allocator figures itself, formats NDJSON and writes it with
// buffered I/O. Disabled = no MemoryLedger object: callers hold a null pointer and the
// cost is one predictable branch (LedgerSession does this for you).
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "observability/mpsc_queue.h"

namespace paraserve {

enum class Phase : uint8_t {
  kConnOpen,        // connection accepted
  kFirstAudio,      // first binary audio frame of the connection
  kChunk,           // a processed audio chunk (every Nth, see LedgerConfig::chunk_every)
  kVadEnd,          // VAD closed a speech segment
  kOfflineStart,    // second (offline) pass starts on a segment
  kOfflineEnd,      // second pass finished
  kFinalSent,       // the is_final reply was sent
  kUtteranceReset,  // session reset for the next utterance on the same connection
  kConnClose,       // connection closed and its session state destroyed
  kCount
};
std::string_view phase_name(Phase p);            // "conn_open", "first_audio", ...
std::optional<Phase> parse_phase(std::string_view name);

// Optional per-event numbers; negative values are "not given" and are omitted from the line.
struct LedgerPayload {
  int64_t audio_ms = -1;     // audio received on this stream so far
  int64_t bytes = -1;        // phase-specific byte count (e.g. frame bytes received so far)
  int64_t state_bytes = -1;  // StreamSession::state_bytes()
  int64_t segment_ms = -1;   // length of the segment (vad_end / offline_*)
};

// Unique, stable per-session trace ids: splitmix64(seed + counter) with a random per-process
// seed. splitmix64 is a bijection, so ids never repeat within a process.
class TraceIdGenerator {
 public:
  TraceIdGenerator();                     // random seed (std::random_device)
  explicit TraceIdGenerator(uint64_t seed);
  uint64_t next() noexcept;
 private:
  uint64_t seed_;
  std::atomic<uint64_t> counter_{0};
};
// 16 lowercase hex digits.
std::string trace_id_hex(uint64_t id);

struct LedgerConfig {
  std::string path;                // empty = ledger disabled
  int chunk_every = 1;             // record 1 of every N chunk events per session (>= 1)
  std::size_t queue_capacity = 8192;  // events; power of two in [2, 1<<20]
  int poll_ms = 10;                // writer wake-up period (1..1000)
  int drops_report_ms = 1000;      // min gap between periodic "drops" lines (>= 10)
  void validate() const;           // throws paraserve::Error naming the field
};
// Fills path / chunk_every from PARASERVE_MEMTRACE and PARASERVE_MEMTRACE_EVERY when those
// are set and the config's own values are defaults (command-line flags win).
// Throws paraserve::Error for a malformed PARASERVE_MEMTRACE_EVERY.
void apply_ledger_env(LedgerConfig& config);

class MemoryLedger {
 public:
  // Opens (truncates) the file and starts the writer thread. Throws paraserve::Error naming
  // the path if it cannot be opened.
  explicit MemoryLedger(const LedgerConfig& config);
  // Stops the writer after draining everything queued, writes the final "drops" line, closes.
  ~MemoryLedger();
  MemoryLedger(const MemoryLedger&) = delete;
  MemoryLedger& operator=(const MemoryLedger&) = delete;

  // nullptr when config.path is empty (ledger disabled).
  static std::unique_ptr<MemoryLedger> open_if_enabled(const LedgerConfig& config);

  uint64_t new_trace_id() noexcept { return ids_.next(); }
  int chunk_every() const noexcept { return chunk_every_; }

  // Hot path. Returns false if the event was dropped because the queue was full.
  bool record(uint64_t trace_id, uint64_t session, Phase phase,
              const LedgerPayload& payload = {}) noexcept;

  // Blocks until every event accepted before the call is written and flushed to the file.
  void flush();

  uint64_t produced() const noexcept { return produced_.load(std::memory_order_relaxed); }
  uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }
  uint64_t written() const noexcept { return written_.load(std::memory_order_acquire); }
  uint64_t write_errors() const noexcept { return write_errors_.load(std::memory_order_relaxed); }
  int64_t live_sessions() const noexcept { return live_.load(std::memory_order_relaxed); }

  // Plain data pushed through the queue (exposed for tests).
  struct Event {
    int64_t ts_us;  // system clock, microseconds since the epoch
    uint64_t trace_id;
    uint64_t session;
    int64_t live_sessions;
    LedgerPayload payload;
    Phase phase;
  };

 private:
  void writer_loop();
  std::size_t drain();  // writer thread only
  void write_drops_line(bool final_line);

  const LedgerConfig config_;
  const int chunk_every_;
  TraceIdGenerator ids_;
  MpscQueue<Event> queue_;
  std::FILE* file_ = nullptr;
  std::unique_ptr<char[]> file_buf_;
  int statm_fd_ = -1;

  std::atomic<uint64_t> produced_{0}, accepted_{0}, dropped_{0}, written_{0}, write_errors_{0};
  std::atomic<int64_t> live_{0};
  uint64_t dropped_reported_ = 0;  // writer thread only

  std::mutex mu_;                   // writer wake-ups and flush() waits; never on the hot path
  std::condition_variable wake_, flushed_;
  bool stop_ = false;
  uint64_t flush_target_ = 0;
  std::thread writer_;
};

// Per-connection handle kept in the connection's own state. With a null ledger every call
// is a single branch. Not thread-safe: one connection is handled by one thread at a time.
struct LedgerSession {
  MemoryLedger* ledger = nullptr;
  uint64_t trace_id = 0;
  uint64_t session = 0;
  uint64_t chunks = 0;

  LedgerSession() = default;
  // Takes a fresh trace id when a ledger is given.
  LedgerSession(MemoryLedger* l, uint64_t session_id)
      : ledger(l), trace_id(l ? l->new_trace_id() : 0), session(session_id) {}

  void record(Phase phase, const LedgerPayload& payload = {}) noexcept {
    if (ledger) ledger->record(trace_id, session, phase, payload);
  }
  // Records every chunk_every-th call (the 1st, N+1th, ...).
  void chunk(const LedgerPayload& payload = {}) noexcept {
    if (ledger && chunks++ % static_cast<uint64_t>(ledger->chunk_every()) == 0)
      ledger->record(trace_id, session, Phase::kChunk, payload);
  }
};

}  // namespace paraserve
