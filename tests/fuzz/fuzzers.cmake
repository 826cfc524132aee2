# libFuzzer programs fuzz_<target>, one per entry of tests/fuzz/fuzz_targets.h. Included by
# the top-level CMakeLists.txt only with -DPARASERVE_FUZZ=ON (clang++); scripts/fuzz.sh
# configures build-fuzz/ that way, builds the `fuzzers` target and runs them.
set(PARASERVE_FUZZ_TARGETS
    audio_bytes audio_file protocol_message connection http_request
    config_yaml am_mvn tokens_json onnx_contract)

file(GLOB _fuzz_srcs CONFIGURE_DEPENDS "${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_*.cpp")
add_library(paraserve_fuzz_targets STATIC ${_fuzz_srcs})
target_link_libraries(paraserve_fuzz_targets PUBLIC paraserve_lib)
target_compile_options(paraserve_fuzz_targets PRIVATE ${PARASERVE_WARNINGS})

add_custom_target(fuzzers)
foreach(_t ${PARASERVE_FUZZ_TARGETS})
  add_executable(fuzz_${_t} "${CMAKE_SOURCE_DIR}/tests/fuzz/driver/libfuzzer_main.cpp")
  target_compile_definitions(fuzz_${_t} PRIVATE PARASERVE_FUZZ_TARGET=${_t})
  target_compile_options(fuzz_${_t} PRIVATE ${PARASERVE_WARNINGS})
  target_link_libraries(fuzz_${_t} PRIVATE paraserve_fuzz_targets)
  target_link_options(fuzz_${_t} PRIVATE -fsanitize=fuzzer)
  add_dependencies(fuzzers fuzz_${_t})
endforeach()
