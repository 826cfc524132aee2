#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include <unistd.h>

#include "fuzz_targets.h"

namespace paraserve::fuzz {

void fuzz_fail(std::string_view what) {
  std::fprintf(stderr, "fuzz invariant violated: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

TempFile::TempFile(std::string_view stem, const std::uint8_t* data, std::size_t size) {
  // One name per process and call: libFuzzer's -jobs/-fork workers and parallel CTest runs
  // each get their own.
  static std::atomic<unsigned> seq{0};
  const char* dir = std::getenv("TMPDIR");
  path_ = std::string(dir && *dir ? dir : "/tmp") + "/paraserve-fuzz-" + std::to_string(::getpid()) + "-" +
          std::to_string(seq.fetch_add(1)) + "-" + std::string(stem);
  std::ofstream f(path_, std::ios::binary | std::ios::trunc);
  if (size) f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  f.close();
  fuzz_check(static_cast<bool>(f), "cannot write the temporary input file " + path_);
}

TempFile::~TempFile() { std::remove(path_.c_str()); }

}  // namespace paraserve::fuzz
