// What the streaming engine hands to its users (the WebSocket server, the CLI, tests).
// Plain data: no JSON, no sockets. The protocol layer turns these into FunASR replies.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/stream_types.h"  // Mode, ChunkSize, TokenStamp, SentenceStamp

namespace paraserve {

// Output of one 800-sample input piece (FunASR's unit of work), or of the final call.
// A session emits one only when something is non-empty, and always exactly one with
// is_final = true per finish().
struct StreamResult {
  std::string online_text;             // streaming-pass delta decoded in this piece
  bool has_offline = false;            // a second-pass sentence ended in this piece
  std::string offline_text;            // punctuated sentence text
  bool has_timestamps = false;         // offline model produced token timestamps
  std::vector<TokenStamp> timestamps;  // absolute ms since stream start
  std::vector<SentenceStamp> stamp_sents;
  int64_t vad_start_ms = -1;           // latest VAD segment start seen so far (ms), -1 if none
  int64_t vad_end_ms = -1;             // latest VAD segment end seen so far (ms), -1 if none
  bool is_final = false;
  std::string error;                   // non-empty: the stream could not be decoded (e.g. wav_format)
};

}  // namespace paraserve
