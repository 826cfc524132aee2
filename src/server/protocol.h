// FunASR 2pass WebSocket protocol: client text messages -> per-connection parameters, and
// engine results -> JSON replies (funasr-compat.md §1.2-§1.6). Plain functions, no sockets,
// so every rule is unit-testable on its own.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pipeline/results.h"
#include "pipeline/session.h"

namespace paraserve::server {

// The settings one utterance is decoded with: a plain value, taken from the connection's
// parameters when the utterance's first audio (or its end) arrives and fixed until its end.
// Two utterances with equal settings may share one recognizer; different settings get a
// recognizer built for them, exactly as on a fresh connection.
struct UtteranceSettings {
  ChunkSize chunk;
  int audio_fs = 16000;
  std::string wav_format = "pcm";
  bool itn = true;
  std::string hotwords;
  std::string svs_lang = "auto";
  bool svs_itn = true;

  friend bool operator==(const UtteranceSettings& a, const UtteranceSettings& b) {
    return a.chunk.left == b.chunk.left && a.chunk.chunk == b.chunk.chunk && a.chunk.right == b.chunk.right &&
           a.audio_fs == b.audio_fs && a.wav_format == b.wav_format && a.itn == b.itn && a.hotwords == b.hotwords &&
           a.svs_lang == b.svs_lang && a.svs_itn == b.svs_itn;
  }
};

// Chunk size used when a client never sends one (paraserve default; FunASR sends nothing).
inline constexpr ChunkSize kDefaultChunk{5, 10, 5};

// The per-connection values FunASR keeps in its `msg` object, with FunASR's defaults. Every
// value persists until a message changes it. FunASR reads chunk_size (first valid value) and
// hotwords (first message) once per connection; paraserve reads them once per utterance, so
// every utterance is decoded as it would be on a fresh connection.
struct ClientParams {
  std::string mode = "2pass";
  std::string wav_name = "wav-default-id";
  std::string wav_format = "pcm";
  int audio_fs = 16000;
  bool itn = true;
  std::string svs_lang = "auto";  // used only by a SenseVoiceSmall offline model
  bool svs_itn = true;
  std::optional<ChunkSize> chunk;  // the first valid value of each utterance wins
  std::string hotwords;            // read from the first text message of each utterance
  bool configured = false;         // a valid JSON text message has arrived
  bool chunk_taken = false;        // this utterance already has its chunk_size
  bool hotwords_taken = false;     // this utterance's first message has been applied

  // The settings an utterance starting now is decoded with.
  UtteranceSettings settings() const;
  // Called at an end of stream: the next messages belong to the next utterance.
  void next_utterance() { chunk_taken = hotwords_taken = false; }
};

// What one text message asks the connection to do.
struct MessageOutcome {
  bool end_of_stream = false;  // is_speaking:false or is_finished:true
  std::string error;           // non-empty: send an error reply
  bool close = false;          // with error: close the connection after the reply
};

// Applies one client text message to `params`. Validation happens before anything is
// applied, so a message with a wrong field type changes nothing. An invalid chunk_size
// rejects the whole message (FunASR skips the rest of such a message).
MessageOutcome apply_text_message(std::string_view text, ClientParams& params);

// "offline" / "online" / "2pass"; anything else -> nullopt.
std::optional<Mode> parse_mode(std::string_view mode);
// pcm / PCM only (FunASR's streaming path).
bool is_pcm_format(std::string_view wav_format);

// Options for a new StreamSession decoding one utterance.
SessionOptions session_options(const UtteranceSettings& settings, Mode mode);
SessionOptions session_options(const ClientParams& params);  // = its current settings() and mode

// Per-connection reply bookkeeping of FunASR HEAD (slice_type / index / start/end time).
struct ReplyState {
  bool sentence_started = false;
  int64_t start_time = 0;
  int64_t end_time = 0;
  int64_t index = 0;
};

// One engine result as FunASR's JSON reply (keys sorted, raw UTF-8). Returns an empty
// string for a non-final result without text (FunASR sends nothing then). The final
// reply carries "is_end": true; `timestamp` appears only as a JSON-array string.
std::string format_result(const StreamResult& result, Mode mode, const std::string& wav_name,
                          ReplyState& state);

// Error reply in FunASR's reply shape: text, wav_name, is_final:true, plus `error`.
std::string format_error(const std::string& wav_name, const std::string& error);

}  // namespace paraserve::server
