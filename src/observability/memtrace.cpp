#include "observability/memtrace.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <random>

#include "common/error.h"
#include "observability/allocator_stats.h"
#include "observability/process_stats.h"

namespace paraserve {
namespace {

constexpr std::array<std::string_view, static_cast<std::size_t>(Phase::kCount)> kPhaseNames = {
    "conn_open", "first_audio", "chunk", "vad_end", "offline_start",
    "offline_end", "final_sent", "utterance_reset", "conn_close"};

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void to_hex16(uint64_t id, char* out) {
  static const char kDigits[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i, id >>= 4) out[i] = kDigits[id & 0xf];
}

// Appends to a fixed line buffer; the writer formats without allocating.
struct LineBuf {
  char data[1024];
  std::size_t len = 0;
  void raw(std::string_view s) {
    std::size_t n = std::min(s.size(), sizeof data - len);
    std::memcpy(data + len, s.data(), n);
    len += n;
  }
  void num(int64_t v) {
    auto r = std::to_chars(data + len, data + sizeof data, v);
    if (r.ec == std::errc()) len = static_cast<std::size_t>(r.ptr - data);
  }
  // "key":value, or "key":null for unknown (negative) figures.
  void field(std::string_view key, int64_t v, bool null_if_negative = true) {
    raw(",\"");
    raw(key);
    raw("\":");
    if (v < 0 && null_if_negative) raw("null");
    else num(v);
  }
  void ts(int64_t us) {
    raw("{\"ts\":");
    num(us / 1000000);
    char frac[16];
    std::snprintf(frac, sizeof frac, ".%06lld", static_cast<long long>(us % 1000000));
    raw(frac);
  }
};

}  // namespace

std::string_view phase_name(Phase p) {
  auto i = static_cast<std::size_t>(p);
  return i < kPhaseNames.size() ? kPhaseNames[i] : std::string_view("unknown");
}

std::optional<Phase> parse_phase(std::string_view name) {
  for (std::size_t i = 0; i < kPhaseNames.size(); ++i)
    if (kPhaseNames[i] == name) return static_cast<Phase>(i);
  return std::nullopt;
}

TraceIdGenerator::TraceIdGenerator() {
  std::random_device rd;
  seed_ = (static_cast<uint64_t>(rd()) << 32) ^ rd();
}
TraceIdGenerator::TraceIdGenerator(uint64_t seed) : seed_(seed) {}

uint64_t TraceIdGenerator::next() noexcept {
  return splitmix64(seed_ + counter_.fetch_add(1, std::memory_order_relaxed));
}

std::string trace_id_hex(uint64_t id) {
  std::string s(16, '0');
  to_hex16(id, s.data());
  return s;
}

void LedgerConfig::validate() const {
  if (chunk_every < 1)
    throw Error("memtrace: chunk_every (PARASERVE_MEMTRACE_EVERY) must be >= 1, got " +
                std::to_string(chunk_every));
  if (queue_capacity < 2 || queue_capacity > (1u << 20) || (queue_capacity & (queue_capacity - 1)))
    throw Error("memtrace: queue_capacity must be a power of two in [2, 1048576], got " +
                std::to_string(queue_capacity));
  if (poll_ms < 1 || poll_ms > 1000)
    throw Error("memtrace: poll_ms must be in [1, 1000], got " + std::to_string(poll_ms));
  if (drops_report_ms < 10)
    throw Error("memtrace: drops_report_ms must be >= 10, got " + std::to_string(drops_report_ms));
}

void apply_ledger_env(LedgerConfig& config) {
  if (config.path.empty()) {
    if (const char* p = std::getenv("PARASERVE_MEMTRACE"); p && *p) config.path = p;
  }
  if (config.chunk_every == 1) {
    if (const char* e = std::getenv("PARASERVE_MEMTRACE_EVERY"); e && *e) {
      std::string_view s(e);
      int v = 0;
      auto r = std::from_chars(s.data(), s.data() + s.size(), v);
      if (r.ec != std::errc() || r.ptr != s.data() + s.size() || v < 1)
        throw Error("PARASERVE_MEMTRACE_EVERY: expected a positive integer, got '" + std::string(s) + "'");
      config.chunk_every = v;
    }
  }
}

std::unique_ptr<MemoryLedger> MemoryLedger::open_if_enabled(const LedgerConfig& config) {
  if (config.path.empty()) return nullptr;
  return std::make_unique<MemoryLedger>(config);
}

MemoryLedger::MemoryLedger(const LedgerConfig& config)
    : config_((config.validate(), config)),
      chunk_every_(config.chunk_every),
      queue_(config.queue_capacity) {
  if (config_.path.empty()) throw Error("memtrace: empty ledger path");
  file_ = std::fopen(config_.path.c_str(), "w");
  if (!file_)
    throw Error("memtrace: cannot open ledger file '" + config_.path + "' for writing: " +
                std::strerror(errno));
  file_buf_ = std::make_unique<char[]>(1 << 16);
  std::setvbuf(file_, file_buf_.get(), _IOFBF, 1 << 16);
  statm_fd_ = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);

  // A header line so a reader knows the allocator and sampling of this run.
  LineBuf line;
  line.ts(now_us());
  line.raw(",\"phase\":\"ledger_start\",\"allocator\":\"");
  line.raw(allocator_name());
  line.raw("\"");
  line.field("pid", ::getpid());
  line.field("chunk_every", chunk_every_);
  line.field("queue_capacity", static_cast<int64_t>(config_.queue_capacity));
  line.raw("}\n");
  std::fwrite(line.data, 1, line.len, file_);
  std::fflush(file_);

  writer_ = std::thread([this] { writer_loop(); });
}

MemoryLedger::~MemoryLedger() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_one();
  if (writer_.joinable()) writer_.join();
  if (statm_fd_ >= 0) ::close(statm_fd_);
  if (file_) std::fclose(file_);
}

bool MemoryLedger::record(uint64_t trace_id, uint64_t session, Phase phase,
                          const LedgerPayload& payload) noexcept {
  // Live-session count is kept here (not in the writer) so dropped events still count.
  int64_t live = live_.load(std::memory_order_relaxed);
  if (phase == Phase::kConnOpen) live = live_.fetch_add(1, std::memory_order_relaxed) + 1;
  else if (phase == Phase::kConnClose) live = live_.fetch_sub(1, std::memory_order_relaxed) - 1;
  produced_.fetch_add(1, std::memory_order_relaxed);
  Event ev{now_us(), trace_id, session, live, payload, phase};
  if (!queue_.try_push(ev)) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  accepted_.fetch_add(1, std::memory_order_release);
  return true;
}

void MemoryLedger::flush() {
  std::unique_lock lock(mu_);
  uint64_t target = accepted_.load(std::memory_order_acquire);
  if (target > flush_target_) flush_target_ = target;
  wake_.notify_one();
  flushed_.wait(lock, [&] { return written_.load(std::memory_order_acquire) >= target || !writer_.joinable(); });
}

std::size_t MemoryLedger::drain() {
  std::size_t n = 0;
  Event ev;
  // Allocator figures are refreshed at most once per millisecond within a batch: a jemalloc
  // "epoch" refresh merges every arena's statistics, which is not free under load.
  AllocatorStats a;
  int64_t alloc_read_at = -1;
  while (queue_.try_pop(ev)) {
    // Memory figures are read here, on the writer thread, at drain time; "lag_us" says how
    // long after the event that was.
    int64_t rss_kb = -1;
    if (statm_fd_ >= 0) {
      char buf[256];
      ssize_t r = ::pread(statm_fd_, buf, sizeof buf - 1, 0);
      if (r > 0) rss_kb = parse_statm_rss_kb(std::string_view(buf, static_cast<std::size_t>(r)),
                                             ::sysconf(_SC_PAGESIZE));
    }
    int64_t read_at = now_us();
    if (alloc_read_at < 0 || read_at - alloc_read_at >= 1000) {
      a = read_allocator_stats();
      alloc_read_at = read_at;
    }

    LineBuf line;
    line.ts(ev.ts_us);
    char hex[16];
    to_hex16(ev.trace_id, hex);
    line.raw(",\"trace_id\":\"");
    line.raw(std::string_view(hex, 16));
    line.raw("\"");
    line.field("session", static_cast<int64_t>(ev.session), false);
    line.raw(",\"phase\":\"");
    line.raw(phase_name(ev.phase));
    line.raw("\"");
    line.field("rss_kb", rss_kb);
    line.field("alloc_allocated", a.allocated);
    line.field("alloc_active", a.active);
    line.field("alloc_resident", a.resident);
    line.field("alloc_retained", a.retained);
    line.field("live_sessions", ev.live_sessions, false);
    line.field("lag_us", read_at - ev.ts_us, false);
    const LedgerPayload& p = ev.payload;
    if (p.audio_ms >= 0) line.field("audio_ms", p.audio_ms);
    if (p.bytes >= 0) line.field("bytes", p.bytes);
    if (p.state_bytes >= 0) line.field("state_bytes", p.state_bytes);
    if (p.segment_ms >= 0) line.field("segment_ms", p.segment_ms);
    line.raw("}\n");
    if (std::fwrite(line.data, 1, line.len, file_) != line.len)
      write_errors_.fetch_add(1, std::memory_order_relaxed);
    ++n;
  }
  if (n > 0 && std::fflush(file_) != 0) write_errors_.fetch_add(1, std::memory_order_relaxed);
  return n;
}

void MemoryLedger::write_drops_line(bool final_line) {
  uint64_t dropped = dropped_.load(std::memory_order_relaxed);
  LineBuf line;
  line.ts(now_us());
  line.raw(",\"phase\":\"drops\"");
  line.field("dropped", static_cast<int64_t>(dropped));
  line.field("written", static_cast<int64_t>(written_.load(std::memory_order_relaxed)));
  line.field("produced", static_cast<int64_t>(produced_.load(std::memory_order_relaxed)));
  line.field("write_errors", static_cast<int64_t>(write_errors_.load(std::memory_order_relaxed)));
  line.raw(final_line ? ",\"final\":true}\n" : ",\"final\":false}\n");
  if (std::fwrite(line.data, 1, line.len, file_) != line.len || std::fflush(file_) != 0)
    write_errors_.fetch_add(1, std::memory_order_relaxed);
  dropped_reported_ = dropped;
}

void MemoryLedger::writer_loop() {
  using clock = std::chrono::steady_clock;
  auto last_drops = clock::now();
  for (;;) {
    bool stopping;
    {
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, std::chrono::milliseconds(config_.poll_ms),
                     [&] { return stop_ || flush_target_ > written_.load(std::memory_order_relaxed); });
      stopping = stop_;
    }
    // Producers may still be publishing after stop_ is seen; drain until the queue is empty
    // and every accepted event is written (an accepted event is in the queue or written).
    for (;;) {
      std::size_t n = drain();
      if (n) written_.fetch_add(n, std::memory_order_release);
      if (n == 0) break;
    }
    {
      std::lock_guard lock(mu_);
      flushed_.notify_all();
    }
    auto now = clock::now();
    if (dropped_.load(std::memory_order_relaxed) != dropped_reported_ &&
        now - last_drops >= std::chrono::milliseconds(config_.drops_report_ms)) {
      write_drops_line(false);
      last_drops = now;
    }
    if (stopping) break;
  }
  // Final drain: catch events whose producers were mid-publish at the last check.
  while (written_.load(std::memory_order_acquire) < accepted_.load(std::memory_order_acquire)) {
    std::size_t n = drain();
    if (n) written_.fetch_add(n, std::memory_order_release);
    else std::this_thread::yield();
  }
  write_drops_line(true);
  std::lock_guard lock(mu_);
  flushed_.notify_all();
}

}  // namespace paraserve
