// `paraserve client`: streams WAV/PCM files to a FunASR-protocol server over N concurrent
// connections and prints each utterance's text and latencies.
#include <atomic>
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

int run_client(ClientArgs& a) {
  a.opt.chunk = parse_chunk(a.chunk_size);
  a.opt.realtime = !a.fast;
  if (a.opt.mode != "2pass" && a.opt.mode != "online" && a.opt.mode != "offline")
    throw Error("--mode: expected 2pass, online or offline, got '" + a.opt.mode + "'");
  if (a.concurrency < 1) throw Error("--concurrency: expected an integer >= 1");
  if (!a.hotword_file.empty()) a.opt.hotwords = hotwords_json(a.hotword_file);
  std::vector<server::PcmAudio> audio;
  for (const auto& f : a.files) audio.push_back(server::read_audio_file(f, a.audio_fs));

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
  sub->add_option("--timeout", a->opt.timeout_s, "seconds to wait per utterance")->capture_default_str();
  sub->add_flag("--print-replies", a->print_replies, "print every raw JSON reply");
  sub->callback([a, &exit_code] { exit_code = run_client(*a); });
}

}  // namespace paraserve::cli
