// Fuzz entry points (issue 10, "Attack surface"). Each takes one input exactly as the
// attacker supplies it (a file's bytes, one text message, one HTTP request, ...), drives it
// through the same code `paraserve` runs on it, and aborts (assert-style, via fuzz_check)
// when an invariant that holds for every input is broken. An input the code rejects with a
// paraserve::Error is a normal outcome, not a finding.
//
// The same functions are used twice:
//   - tests/fuzz/driver/libfuzzer_main.cpp wraps one of them as LLVMFuzzerTestOneInput
//     (clang, -DPARASERVE_FUZZ=ON, scripts/fuzz.sh);
//   - tests/fuzz/test_fuzz_regressions.cpp replays every committed corpus and regression
//     input through them in the normal (gcc) test suite, so a fixed crash stays fixed.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace paraserve::fuzz {

using Entry = int (*)(const std::uint8_t* data, std::size_t size);

// WAV / headerless PCM parser and the FFmpeg fallback, from memory (`transcribe -`).
int audio_bytes(const std::uint8_t* data, std::size_t size);
// The same bytes as a file on disk (`transcribe file`): FFmpeg's file path, and raw .pcm.
int audio_file(const std::uint8_t* data, std::size_t size);
// One WebSocket text message through the protocol parser (fresh and configured connection).
int protocol_message(const std::uint8_t* data, std::size_t size);
// A sequence of text/binary frames through a connection's per-message state machine.
int connection(const std::uint8_t* data, std::size_t size);
// The first HTTP request on a connection, parsed and answered as server.cpp does.
int http_request(const std::uint8_t* data, std::size_t size);
// config.yaml through every model-directory config reader.
int config_yaml(const std::uint8_t* data, std::size_t size);
// am.mvn (Kaldi nnet text CMVN).
int am_mvn(const std::uint8_t* data, std::size_t size);
// tokens.json.
int tokens_json(const std::uint8_t* data, std::size_t size);
// An .onnx file through ONNX Runtime and the model contract checks.
int onnx_contract(const std::uint8_t* data, std::size_t size);

struct Target {
  const char* name;  // also the folder tests/fuzz/<name>/{corpus,regressions}
  Entry entry;
};
inline constexpr Target kTargets[] = {
    {"audio_bytes", audio_bytes},   {"audio_file", audio_file},   {"protocol_message", protocol_message},
    {"connection", connection},     {"http_request", http_request}, {"config_yaml", config_yaml},
    {"am_mvn", am_mvn},             {"tokens_json", tokens_json}, {"onnx_contract", onnx_contract},
};

// Prints "fuzz invariant violated: <what>" and aborts (a finding for libFuzzer, a crash in CTest).
[[noreturn]] void fuzz_fail(std::string_view what);
inline void fuzz_check(bool ok, std::string_view what) {
  if (!ok) fuzz_fail(what);
}

// The input written to a per-process temporary file (readers that take a path). Removed in
// the destructor.
class TempFile {
 public:
  TempFile(std::string_view stem, const std::uint8_t* data, std::size_t size);
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace paraserve::fuzz
