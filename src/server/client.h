// A FunASR-protocol streaming client (used by `paraserve client`, `paraserve soak` and the
// tests). One ClientConnection = one WebSocket; it can stream several utterances in turn.
// Each call runs its own io_context on the calling thread (one thread per connection).
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "pipeline/results.h"

namespace paraserve::server {

struct ClientOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 10095;
  bool ssl = false;              // wss:// without certificate verification (like FunASR's client)
  std::string mode = "2pass";    // 2pass | online | offline
  ChunkSize chunk{5, 10, 5};
  int chunk_interval = 10;       // frame = 60 * chunk.chunk / chunk_interval ms (FunASR's client)
  std::string hotwords;          // sent as-is in the first message when non-empty
  bool itn = true;
  bool realtime = true;          // pace frames in real time; false = as fast as possible
  double speed = 1.0;            // real-time pacing multiplier (2.0 = twice as fast)
  double timeout_s = 120.0;      // connect + stream + wait for the final reply
  bool send_chunk_size = true;   // false: omit chunk_size (tests the server default)
  std::string svs_lang;          // SenseVoiceSmall language, sent when non-empty
  std::optional<bool> svs_itn;   // SenseVoiceSmall text normalisation, sent when set
};

struct ClientUtterance {
  std::string wav_name;
  std::vector<std::string> replies;  // raw JSON text of every reply, in order
  std::string online_text;           // concatenated 2pass-online deltas
  std::string offline_text;          // concatenated 2pass-offline sentences (final reply included)
  std::string error;                 // transport error, timeout or an `error` reply
  bool got_final = false;
  double first_partial_s = -1;       // first audio frame sent -> first reply with text
  double final_s = -1;               // end-of-speech message sent -> is_final reply
  double audio_s = 0;
};

class ClientConnection {
 public:
  ClientConnection();
  ~ClientConnection();
  ClientConnection(const ClientConnection&) = delete;
  ClientConnection& operator=(const ClientConnection&) = delete;

  // Throws paraserve::Error when the server cannot be reached or refuses the handshake.
  void connect(const ClientOptions& options);
  // Streams one utterance and waits for its is_final reply (or an error / close / timeout).
  ClientUtterance stream(std::span<const int16_t> pcm, int sample_rate, const std::string& wav_name);
  // Sends raw messages (tests): text or binary.
  void send_text(const std::string& text);
  void send_binary(std::span<const uint8_t> bytes);
  // Reads one reply; empty string on close/timeout (then `closed()` tells which).
  std::string read_text(double timeout_s);
  bool closed() const;
  uint16_t close_code() const;  // WebSocket close code sent by the server (0 if none)
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Reads a 16-bit PCM WAV (any channel count: the first channel is used) or a raw .pcm file
// (little-endian int16 mono at `pcm_rate`). Throws paraserve::Error naming the file.
struct PcmAudio {
  std::vector<int16_t> samples;
  int sample_rate = 16000;
};
PcmAudio read_audio_file(const std::string& path, int pcm_rate = 16000);

}  // namespace paraserve::server
