// `paraserve client`: streams WAV/PCM files to a FunASR-protocol server over N concurrent
// connections and prints each utterance's text and latencies.
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "common/error.h"
#include "server/client.h"
#include "server/latency.h"

namespace paraserve::cli {
namespace {

struct ClientArgs {
  server::ClientOptions opt;
  std::vector<std::string> files;
  std::string chunk_size = "5,10,5";
  std::string hotword_file;
  int audio_fs = 16000;
  int concurrency = 1;
  bool fast = false;
  bool print_replies = false;
  // --latency (capacity measurement, docs/performance.md "Capacity")
  bool latency = false;
  double stagger_s = -1;          // spread of the stream starts; -1 = one chunk
  double calibrate_speed = 0.25;  // pacing of the unloaded calibration stream
  std::string calibration_file;   // use this calibration instead of running one
  std::string save_calibration;
  bool calibrate_only = false;
  std::string summary_json;
};

ChunkSize parse_chunk(const std::string& s) {
  ChunkSize c;
  char sep1 = 0, sep2 = 0;
  std::istringstream in(s);
  if (!(in >> c.left >> sep1 >> c.chunk >> sep2 >> c.right) || sep1 != ',' || sep2 != ',' || c.chunk <= 0 ||
      c.left < 0 || c.right < 0)
    throw Error("--chunk-size: expected 'left,chunk,right' with chunk > 0 (e.g. 5,10,5), got '" + s + "'");
  return c;
}

// FunASR hotword file lines "word(s) weight" -> the JSON-object string its mic client sends.
std::string hotwords_json(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw Error("--hotword: cannot open '" + path + "'");
  nlohmann::json j = nlohmann::json::object();
  std::string line;
  while (std::getline(f, line)) {
    const auto sp = line.find_last_of(' ');
    if (sp == std::string::npos) continue;
    try {
      j[line.substr(0, sp)] = std::stoi(line.substr(sp + 1));
    } catch (const std::exception&) {
      throw Error("--hotword: '" + path + "': expected 'words weight' lines, got '" + line + "'");
    }
  }
  return j.dump();
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("cannot open '" + path + "'");
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f || !(f << text << '\n')) throw Error("cannot write '" + path + "'");
}

// --latency: one unloaded calibration stream (or --calibration FILE), then N concurrent paced
// streams of the same file with staggered starts, each timed against the calibration.
int run_latency(ClientArgs& a, const server::PcmAudio& audio, const std::string& name) {
  using Clock = std::chrono::steady_clock;
  if (!a.opt.realtime) throw Error("--latency needs real-time pacing (drop --fast)");
  if (!(a.calibrate_speed > 0)) throw Error("--calibrate-speed: expected a number > 0");
  if (a.calibration_file.empty() && a.calibrate_speed > a.opt.speed)
    std::fprintf(stderr, "paraserve client: warning: --calibrate-speed %.2f is faster than --speed %.2f: reference "
                         "positions come late, lags are underestimated (many early_replies)\n",
                 a.calibrate_speed, a.opt.speed);
  const double audio_s = static_cast<double>(audio.samples.size()) / audio.sample_rate;
  server::Calibration cal;
  if (!a.calibration_file.empty()) {
    cal = server::calibration_from_json(read_file(a.calibration_file));
  } else {
    server::ClientOptions o = a.opt;
    o.speed = a.calibrate_speed;
    o.timeout_s = a.opt.timeout_s + audio_s / a.calibrate_speed;
    server::ClientConnection conn;
    conn.connect(o);
    auto u = conn.stream(audio.samples, audio.sample_rate, name);
    conn.close();
    cal = server::calibrate(server::timeline_of(u));
  }
  int partials = 0, finals = 0;
  for (const auto& r : cal.replies) (r.mode == "2pass-online" && !r.is_final ? partials : finals)++;
  std::printf("calibration: %zu replies (%d partial, %d final)%s%s\n", cal.replies.size(), partials, finals,
              cal.error.empty() ? "" : "; error: ", cal.error.c_str());
  if (!a.save_calibration.empty()) write_file(a.save_calibration, server::calibration_to_json(cal));
  if (!cal.error.empty()) return 1;
  if (a.calibrate_only) return 0;

  const int n = a.concurrency;
  const double chunk_s = 0.060 * a.opt.chunk.chunk;
  const double spread = a.stagger_s >= 0 ? a.stagger_s : chunk_s;
  server::ClientOptions o = a.opt;
  o.timeout_s = a.opt.timeout_s + audio_s / std::max(0.01, a.opt.speed) + spread;
  std::vector<server::StreamTimeline> timelines(static_cast<std::size_t>(n));
  std::vector<std::unique_ptr<server::ClientConnection>> conns;
  for (int i = 0; i < n; ++i) conns.push_back(std::make_unique<server::ClientConnection>());
  // Connect all first, so that connection set-up does not disturb the paced streams.
  for (int i = 0; i < n; ++i) {
    try {
      conns[static_cast<std::size_t>(i)]->connect(o);
    } catch (const std::exception& e) {
      timelines[static_cast<std::size_t>(i)].error = e.what();
    }
  }
  const auto start = Clock::now() + std::chrono::milliseconds(200);
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      auto& t = timelines[static_cast<std::size_t>(i)];
      if (!t.error.empty()) return;
      std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(
                                                std::chrono::duration<double>(spread * i / n)));
      auto& c = *conns[static_cast<std::size_t>(i)];
      t = server::timeline_of(c.stream(audio.samples, audio.sample_rate, name));
      c.close();
    });
  }
  for (auto& t : threads) t.join();
  std::vector<server::StreamLatency> per_stream;
  for (const auto& t : timelines) per_stream.push_back(server::measure_stream(cal, t));
  const auto sum = server::summarize(per_stream);
  std::printf("latency: %d streams x %.1f s at speed %.2f, starts spread over %.2f s\n%s", n, audio_s, a.opt.speed,
              spread, server::summary_to_text(sum).c_str());
  if (!a.summary_json.empty()) {
    auto j = nlohmann::json::parse(server::summary_to_json(sum));
    j["concurrency"] = n;
    j["audio_s"] = audio_s;
    j["speed"] = a.opt.speed;
    j["stagger_s"] = spread;
    j["calibration_replies"] = cal.replies.size();
    write_file(a.summary_json, j.dump());
  }
  return sum.errors == 0 ? 0 : 1;
}

int run_client(ClientArgs& a) {
  a.opt.chunk = parse_chunk(a.chunk_size);
  a.opt.realtime = !a.fast;
  if (a.opt.mode != "2pass" && a.opt.mode != "online" && a.opt.mode != "offline")
    throw Error("--mode: expected 2pass, online or offline, got '" + a.opt.mode + "'");
  if (a.concurrency < 1) throw Error("--concurrency: expected an integer >= 1");
  if (!a.hotword_file.empty()) a.opt.hotwords = hotwords_json(a.hotword_file);
  std::vector<server::PcmAudio> audio;
  for (const auto& f : a.files) audio.push_back(server::read_audio_file(f, a.audio_fs));
  if (a.latency) {
    if (a.files.size() != 1) throw Error("--latency: expected exactly one audio file");
    return run_latency(a, audio[0], std::filesystem::path(a.files[0]).stem().string());
  }

  std::mutex print_mu;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < a.concurrency; ++c) {
    threads.emplace_back([&, c] {
      try {
        server::ClientConnection conn;
        conn.connect(a.opt);
        // Connection c streams files c, c+N, ... on one socket (with more connections than
        // files, the extra connections stream the files again).
        for (std::size_t i = static_cast<std::size_t>(c) % a.files.size(); i < a.files.size();
             i += static_cast<std::size_t>(a.concurrency)) {
          const std::string name = std::filesystem::path(a.files[i]).stem().string();
          auto u = conn.stream(audio[i].samples, audio[i].sample_rate, name);
          std::lock_guard lock(print_mu);
          if (a.print_replies)
            for (const auto& r : u.replies) std::printf("[conn %d] %s\n", c, r.c_str());
          std::printf("%s\t%s\tfirst_partial_ms=%.0f\tfinal_ms=%.0f\taudio_s=%.2f%s%s\n", name.c_str(),
                      (u.offline_text.empty() ? u.online_text : u.offline_text).c_str(), u.first_partial_s * 1000,
                      u.final_s * 1000, u.audio_s, u.error.empty() ? "" : "\terror=", u.error.c_str());
          std::fflush(stdout);
          if (!u.error.empty() || !u.got_final) ++failures;
        }
        conn.close();
      } catch (const std::exception& e) {
        std::lock_guard lock(print_mu);
        std::fprintf(stderr, "paraserve client: connection %d: %s\n", c, e.what());
        ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  return failures.load() == 0 ? 0 : 1;
}

}  // namespace

void add_client_command(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<ClientArgs>();
  auto* sub = app.add_subcommand("client", "stream WAV/PCM files to a FunASR-protocol server and print results");
  sub->add_option("files", a->files, "WAV (16-bit PCM) or raw .pcm files")->required()->check(CLI::ExistingFile);
  sub->add_option("--host", a->opt.host, "server host")->capture_default_str();
  sub->add_option("--port", a->opt.port, "server port")->capture_default_str();
  sub->add_flag("--ssl", a->opt.ssl, "use wss:// (certificate not verified, like FunASR's client)");
  sub->add_option("--mode", a->opt.mode, "2pass | online | offline")->capture_default_str();
  sub->add_option("--chunk-size", a->chunk_size, "left,chunk,right in 60 ms frames")->capture_default_str();
  sub->add_option("--chunk-interval", a->opt.chunk_interval, "frames per chunk (frame = 60*chunk/interval ms)")->capture_default_str();
  sub->add_option("--hotword", a->hotword_file, "hotword file ('words weight' lines)");
  sub->add_option("--itn", a->opt.itn, "send itn true/false")->capture_default_str();
  sub->add_option("--svs-lang", a->opt.svs_lang, "send svs_lang (SenseVoiceSmall language: auto, zh, en, ...)");
  sub->add_option_function<bool>(
      "--svs-itn", [a](const bool& v) { a->opt.svs_itn = v; }, "send svs_itn true/false (SenseVoiceSmall)");
  sub->add_option("--audio-fs", a->audio_fs, "sample rate of raw .pcm files")->capture_default_str();
  sub->add_option("--concurrency,-c", a->concurrency, "concurrent connections")->capture_default_str();
  sub->add_flag("--fast", a->fast, "send as fast as possible instead of in real time");
  sub->add_option("--speed", a->opt.speed, "real-time pacing multiplier")->capture_default_str();
  sub->add_option("--timeout", a->opt.timeout_s,
                  "seconds to wait per utterance (--latency: beyond the audio's own paced duration)")->capture_default_str();
  sub->add_flag("--print-replies", a->print_replies, "print every raw JSON reply");
  sub->add_flag("--latency", a->latency,
                "capacity mode: calibrate with one unloaded stream, then stream the file over -c connections "
                "paced at --speed with staggered starts; print partial lag and final latency (docs/performance.md)");
  sub->add_option("--stagger", a->stagger_s, "--latency: spread the stream starts over S seconds [one chunk]");
  sub->add_option("--calibrate-speed", a->calibrate_speed, "--latency: pacing of the calibration stream")
      ->capture_default_str();
  sub->add_option("--calibration", a->calibration_file, "--latency: read the calibration from FILE instead")
      ->check(CLI::ExistingFile);
  sub->add_option("--save-calibration", a->save_calibration, "--latency: write the calibration to FILE");
  sub->add_flag("--calibrate-only", a->calibrate_only, "--latency: stop after the calibration");
  sub->add_option("--summary-json", a->summary_json, "--latency: write the summary as one JSON object to FILE");
  sub->callback([a, &exit_code] { exit_code = run_client(*a); });
}

}  // namespace paraserve::cli
