// libFuzzer entry for one target of tests/fuzz/fuzz_targets.h; the build names it with
// -DPARASERVE_FUZZ_TARGET=<function> (tests/fuzz/fuzzers.cmake). Not part of the gcc build.
#include <cstddef>
#include <cstdint>

#include "../fuzz_targets.h"

#ifndef PARASERVE_FUZZ_TARGET
#error "PARASERVE_FUZZ_TARGET must name a function of fuzz_targets.h"
#endif

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return paraserve::fuzz::PARASERVE_FUZZ_TARGET(data, size);
}
