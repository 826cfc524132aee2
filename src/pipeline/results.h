// What the streaming engine hands to its users (the WebSocket server, the CLI, tests).
// Plain data: no JSON, no sockets. The protocol layer turns these into FunASR replies.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace paraserve {

enum class Mode { kOffline = 0, kOnline = 1, kTwoPass = 2 };

// chunk_size = [left, chunk, right] in 60 ms LFR frames (FunASR default [5,10,5]).
struct ChunkSize {
  int left = 5;
  int chunk = 10;
  int right = 5;
};

struct TokenStamp {
  int64_t begin_ms = 0;
  int64_t end_ms = 0;
};

// One entry of FunASR's `stamp_sents` (funasr-compat.md §5.4).
struct SentenceStamp {
  std::string text_seg;
  std::string punc;
  int64_t start = -1;
  int64_t end = -1;
  std::vector<TokenStamp> ts_list;
};

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
