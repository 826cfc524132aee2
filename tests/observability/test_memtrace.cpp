#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "observability/memtrace.h"

namespace paraserve {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A fresh temporary folder per test, removed afterwards.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string name = "paraserve-obs-";
    name += std::to_string(::getpid());
    name += '-';
    name += ::testing::UnitTest::GetInstance()->current_test_info()->name();
    path = fs::temp_directory_path() / name;
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

// Every line must parse; returns them all.
std::vector<json> read_lines(const fs::path& p) {
  std::ifstream f(p);
  std::vector<json> out;
  std::string line;
  while (std::getline(f, line)) {
    json j = json::parse(line, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "invalid JSON line: " << line;
    if (!j.is_discarded()) out.push_back(j);
  }
  return out;
}

std::vector<json> events_of(const std::vector<json>& lines) {
  std::vector<json> out;
  for (const auto& j : lines)
    if (j["phase"] != "drops" && j["phase"] != "ledger_start") out.push_back(j);
  return out;
}

LedgerConfig config_for(const fs::path& file) {
  LedgerConfig c;
  c.path = file.string();
  return c;
}

TEST(Memtrace, PhaseNamesRoundTrip) {
  std::set<std::string> names;
  for (int i = 0; i < static_cast<int>(Phase::kCount); ++i) {
    auto p = static_cast<Phase>(i);
    std::string n(phase_name(p));
    EXPECT_TRUE(names.insert(n).second) << n;
    EXPECT_EQ(parse_phase(n), p);
  }
  EXPECT_EQ(phase_name(Phase::kConnOpen), "conn_open");
  EXPECT_EQ(phase_name(Phase::kUtteranceReset), "utterance_reset");
  EXPECT_FALSE(parse_phase("nope").has_value());
}

TEST(Memtrace, TraceIdsUniqueAndHex) {
  TraceIdGenerator a(42), b(42), c(43);
  std::set<uint64_t> seen;
  for (int i = 0; i < 100000; ++i) EXPECT_TRUE(seen.insert(a.next()).second);
  EXPECT_EQ(b.next(), TraceIdGenerator(42).next());  // stable for a given seed
  EXPECT_NE(TraceIdGenerator(42).next(), c.next());
  EXPECT_EQ(trace_id_hex(0x00ab00000000ff01ULL), "00ab00000000ff01");
  EXPECT_EQ(trace_id_hex(~0ULL), "ffffffffffffffff");
}

TEST(Memtrace, ConfigValidation) {
  LedgerConfig c;
  c.path = "x";
  EXPECT_NO_THROW(c.validate());
  c.chunk_every = 0;
  EXPECT_THROW(c.validate(), Error);
  c.chunk_every = 1;
  c.queue_capacity = 1000;  // not a power of two
  EXPECT_THROW(c.validate(), Error);
  c.queue_capacity = 1024;
  c.poll_ms = 0;
  EXPECT_THROW(c.validate(), Error);
}

TEST(Memtrace, EnvironmentConfig) {
  ::setenv("PARASERVE_MEMTRACE", "/tmp/from-env.ndjson", 1);
  ::setenv("PARASERVE_MEMTRACE_EVERY", "5", 1);
  LedgerConfig c;
  apply_ledger_env(c);
  EXPECT_EQ(c.path, "/tmp/from-env.ndjson");
  EXPECT_EQ(c.chunk_every, 5);
  LedgerConfig flags;  // command-line values win
  flags.path = "/tmp/flag.ndjson";
  flags.chunk_every = 3;
  apply_ledger_env(flags);
  EXPECT_EQ(flags.path, "/tmp/flag.ndjson");
  EXPECT_EQ(flags.chunk_every, 3);
  ::setenv("PARASERVE_MEMTRACE_EVERY", "10x", 1);
  LedgerConfig bad;
  try {
    apply_ledger_env(bad);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("PARASERVE_MEMTRACE_EVERY"), std::string::npos);
  }
  ::unsetenv("PARASERVE_MEMTRACE");
  ::unsetenv("PARASERVE_MEMTRACE_EVERY");
}

TEST(Memtrace, DisabledPathDoesNothing) {
  TempDir dir;
  LedgerConfig c;  // empty path
  auto ledger = MemoryLedger::open_if_enabled(c);
  EXPECT_EQ(ledger, nullptr);
  LedgerSession s(ledger.get(), 7);
  EXPECT_EQ(s.trace_id, 0u);
  s.record(Phase::kConnOpen);
  for (int i = 0; i < 10; ++i) s.chunk({});
  s.record(Phase::kConnClose);
  EXPECT_EQ(s.chunks, 0u);
  EXPECT_TRUE(fs::is_empty(dir.path));
}

TEST(Memtrace, UnwritablePathIsAClearError) {
  LedgerConfig c;
  c.path = "/nonexistent-dir/ledger.ndjson";
  try {
    MemoryLedger l(c);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/ledger.ndjson"), std::string::npos) << e.what();
  }
}

TEST(Memtrace, WritesDocumentedFields) {
  TempDir dir;
  fs::path file = dir.path / "l.ndjson";
  uint64_t trace = 0;
  {
    MemoryLedger l(config_for(file));
    LedgerSession s(&l, 12);
    trace = s.trace_id;
    s.record(Phase::kConnOpen);
    LedgerPayload p;
    p.audio_ms = 600;
    p.state_bytes = 4096;
    s.record(Phase::kFirstAudio, p);
    LedgerSession other(&l, 13);
    other.record(Phase::kConnOpen);
    s.record(Phase::kConnClose);
  }
  auto lines = read_lines(file);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.front()["phase"], "ledger_start");
  EXPECT_EQ(lines.front()["allocator"], "glibc");
  EXPECT_EQ(lines.back()["phase"], "drops");
  EXPECT_EQ(lines.back()["final"], true);
  EXPECT_EQ(lines.back()["dropped"], 0);
  auto ev = events_of(lines);
  ASSERT_EQ(ev.size(), 4u);
  for (const auto& j : ev) {
    for (const char* k : {"ts", "trace_id", "session", "phase", "rss_kb", "alloc_allocated", "alloc_active",
                          "alloc_resident", "alloc_retained", "live_sessions"})
      EXPECT_TRUE(j.contains(k)) << k << " missing in " << j.dump();
    EXPECT_GT(j["rss_kb"].get<int64_t>(), 0);
    EXPECT_TRUE(j["alloc_resident"].is_null());  // glibc does not report it
    EXPECT_EQ(j["trace_id"].get<std::string>().size(), 16u);
    EXPECT_GT(j["ts"].get<double>(), 1.6e9);
  }
  EXPECT_EQ(ev[0]["trace_id"], trace_id_hex(trace));
  EXPECT_EQ(ev[0]["session"], 12);
  EXPECT_EQ(ev[0]["live_sessions"], 1);
  EXPECT_FALSE(ev[0].contains("audio_ms"));
  EXPECT_EQ(ev[1]["phase"], "first_audio");
  EXPECT_EQ(ev[1]["audio_ms"], 600);
  EXPECT_EQ(ev[1]["state_bytes"], 4096);
  EXPECT_FALSE(ev[1].contains("segment_ms"));
  EXPECT_EQ(ev[2]["live_sessions"], 2);
  EXPECT_NE(ev[2]["trace_id"], ev[0]["trace_id"]);
  EXPECT_EQ(ev[3]["phase"], "conn_close");
  EXPECT_EQ(ev[3]["live_sessions"], 1);
}

TEST(Memtrace, ChunkSampling) {
  TempDir dir;
  fs::path file = dir.path / "l.ndjson";
  {
    LedgerConfig c = config_for(file);
    c.chunk_every = 3;
    MemoryLedger l(c);
    LedgerSession s(&l, 1);
    for (int i = 0; i < 10; ++i) {
      LedgerPayload p;
      p.bytes = i;
      s.chunk(p);
    }
  }
  auto ev = events_of(read_lines(file));
  ASSERT_EQ(ev.size(), 4u);  // chunks 0, 3, 6, 9
  for (std::size_t k = 0; k < ev.size(); ++k) {
    EXPECT_EQ(ev[k]["phase"], "chunk");
    EXPECT_EQ(ev[k]["bytes"], static_cast<int>(k * 3));
  }
}

TEST(Memtrace, FlushMakesEventsVisibleBeforeShutdown) {
  TempDir dir;
  fs::path file = dir.path / "l.ndjson";
  LedgerConfig c = config_for(file);
  c.poll_ms = 1000;  // the writer would otherwise sleep; flush() must wake it
  MemoryLedger l(c);
  for (int i = 0; i < 50; ++i) l.record(1, 1, Phase::kChunk);
  l.flush();
  EXPECT_EQ(l.written(), 50u);
  EXPECT_EQ(events_of(read_lines(file)).size(), 50u);
}

TEST(Memtrace, ShutdownFlushesEverythingQueued) {
  TempDir dir;
  fs::path file = dir.path / "l.ndjson";
  uint64_t accepted = 0;
  {
    LedgerConfig c = config_for(file);
    c.poll_ms = 1000;
    c.queue_capacity = 4096;
    MemoryLedger l(c);
    for (int i = 0; i < 3000; ++i) accepted += l.record(9, 9, Phase::kChunk) ? 1 : 0;
  }  // destructor right away: nothing may be lost
  auto lines = read_lines(file);
  EXPECT_EQ(events_of(lines).size(), accepted);
  EXPECT_EQ(lines.back()["phase"], "drops");
  EXPECT_EQ(lines.back()["written"].get<uint64_t>(), accepted);
  EXPECT_EQ(lines.back()["produced"], 3000);
}

TEST(Memtrace, FullQueueDropsWithoutBlocking) {
  TempDir dir;
  fs::path file = dir.path / "l.ndjson";
  uint64_t refused = 0;
  uint64_t dropped = 0, written = 0;
  {
    LedgerConfig c = config_for(file);
    c.queue_capacity = 8;
    c.poll_ms = 1000;
    MemoryLedger l(c);
    for (int i = 0; i < 10000; ++i) refused += l.record(1, 1, Phase::kChunk) ? 0 : 1;
    EXPECT_GT(refused, 0u);  // 8 slots cannot take 10000 events between wake-ups
    EXPECT_EQ(l.dropped(), refused);
    EXPECT_EQ(l.produced(), 10000u);
    l.flush();
    dropped = l.dropped();
    written = l.written();
  }
  EXPECT_EQ(written + dropped, 10000u);
  auto lines = read_lines(file);
  EXPECT_EQ(events_of(lines).size(), written);
  EXPECT_EQ(lines.back()["dropped"].get<uint64_t>(), refused);
  EXPECT_EQ(lines.back()["final"], true);
}

TEST(MpscQueue, FullAndEmptyBehaviour) {
  MpscQueue<int> q(4);
  int v = 0;
  EXPECT_FALSE(q.try_pop(v));
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(q.try_push(i));
  EXPECT_FALSE(q.try_push(99));
  ASSERT_TRUE(q.try_pop(v));
  EXPECT_EQ(v, 0);
  EXPECT_TRUE(q.try_push(4));
  for (int i = 1; i <= 4; ++i) {
    ASSERT_TRUE(q.try_pop(v));
    EXPECT_EQ(v, i);
  }
  EXPECT_FALSE(q.try_pop(v));
  EXPECT_THROW(MpscQueue<int>(3), Error);
  EXPECT_THROW(MpscQueue<int>(0), Error);
}

// 8 producers hammer a small queue while the writer drains: every line is valid JSON, each
// producer's events appear in its own order, and written + dropped == produced.
TEST(Memtrace, ConcurrentProducersStress) {
  TempDir dir;
  fs::path file = dir.path / "l.ndjson";
  constexpr int kThreads = 8, kPerThread = 5000;
  uint64_t produced = 0, dropped = 0, written = 0;
  std::vector<uint64_t> accepted(kThreads, 0);
  {
    LedgerConfig c = config_for(file);
    c.queue_capacity = 1024;
    c.poll_ms = 1;
    c.drops_report_ms = 10;
    MemoryLedger l(c);
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t)
      ts.emplace_back([&, t] {
        LedgerSession s(&l, static_cast<uint64_t>(t));
        s.record(Phase::kConnOpen);
        uint64_t ok = 0;
        for (int i = 0; i < kPerThread; ++i) {
          LedgerPayload p;
          p.bytes = i;
          ok += l.record(s.trace_id, s.session, Phase::kChunk, p) ? 1 : 0;
          if (i % 64 == 0) std::this_thread::yield();
        }
        accepted[t] = ok;
      });
    for (auto& t : ts) t.join();
    l.flush();
    produced = l.produced();
    dropped = l.dropped();
    written = l.written();
  }
  EXPECT_EQ(produced, uint64_t{kThreads} * (kPerThread + 1));
  EXPECT_EQ(written + dropped, produced);
  auto lines = read_lines(file);
  auto ev = events_of(lines);
  EXPECT_EQ(ev.size(), written);
  std::map<uint64_t, int64_t> last_bytes;
  std::map<uint64_t, uint64_t> chunk_lines;
  for (const auto& j : ev) {
    if (j["phase"] != "chunk") continue;
    uint64_t s = j["session"];
    int64_t b = j["bytes"];
    auto it = last_bytes.find(s);
    if (it != last_bytes.end()) {
      EXPECT_GT(b, it->second) << "session " << s << " out of order";
    }
    last_bytes[s] = b;
    ++chunk_lines[s];
  }
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(chunk_lines[static_cast<uint64_t>(t)], accepted[t]) << t;
  const json& last = lines.back();
  EXPECT_EQ(last["phase"], "drops");
  EXPECT_EQ(last["final"], true);
  EXPECT_EQ(last["dropped"].get<uint64_t>(), dropped);
  EXPECT_EQ(last["written"].get<uint64_t>(), written);
  EXPECT_EQ(last["produced"].get<uint64_t>(), produced);
  // Periodic drops lines, if any, never go backwards.
  uint64_t prev = 0;
  for (const auto& j : lines)
    if (j["phase"] == "drops") {
      EXPECT_GE(j["dropped"].get<uint64_t>(), prev);
      prev = j["dropped"];
    }
}

}  // namespace
}  // namespace paraserve
