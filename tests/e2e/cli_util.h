// Shared by the end-to-end CLI tests: where the paraserve binary is, and running a shell
// command with its stdout and stderr captured.
#pragma once
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace paraserve::test {

// PARASERVE_BIN wins (e.g. an installed binary); otherwise the one this build produced.
inline std::string paraserve_bin() {
  const char* b = std::getenv("PARASERVE_BIN");
  if (b && *b) return b;
  return std::string(PARASERVE_BINARY_DIR) + "/paraserve";
}

// Runs `cmd` through the shell, returns stdout + stderr; *rc = exit status (-1 if killed).
inline std::string run_shell(const std::string& cmd, int* rc = nullptr) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return out;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  if (rc) *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

}  // namespace paraserve::test
