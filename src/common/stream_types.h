// Value types shared by the decode, pipeline and server layers: the decoding mode, the
// streaming chunk shape and the token / sentence stamps. Plain data, no behaviour, so every
// layer above common can use them without seeing the layers that produce them.
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

}  // namespace paraserve
