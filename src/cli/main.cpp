// paraserve: streaming speech recognition server, drop-in for FunASR's 2pass WebSocket server.
#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "common/error.h"

// jemalloc's start-up options, read before main() runs (MALLOC_CONF in the environment is
// applied after this and wins). One arena instead of jemalloc's default 4 per CPU: paraserve
// runs few threads (I/O, decoders, ledger), each arena keeps its own unused pages, and with
// decay "never" (runtime_settings.h) pages freed in one arena could not serve another's
// next model call. Measured (docs/memory.md): warm side by side on full int8, minor faults
// 7.4 -> 2.5 per audio s and RSS -24 MiB, CPU per audio s unchanged within noise. Thread
// caches only for objects up to 1 KiB (jemalloc: 32 KiB): each thread's cache is memory no
// other thread can use; measured on the tiny soak, -4.4 MB fixed cost and -151 kB per
// concurrent session at its peak, CPU per audio s unchanged within noise on full int8.
// Unused by glibc and mimalloc builds.
extern "C" {
__attribute__((visibility("default"), used)) const char* malloc_conf = "narenas:1,tcache_max:1024";
}

int main(int argc, char** argv) {
  CLI::App app{"paraserve: streaming 2pass speech recognition (FunASR-compatible)"};
  app.set_version_flag("--version", "paraserve 0.1.0");
  app.require_subcommand(1);
  int exit_code = 0;
  paraserve::cli::add_models_command(app, exit_code);
  paraserve::cli::add_transcribe_command(app, exit_code);
  paraserve::cli::add_serve_command(app, exit_code);
  paraserve::cli::add_client_command(app, exit_code);
  paraserve::cli::add_bench_command(app, exit_code);
  paraserve::cli::add_soak_command(app, exit_code);
  paraserve::cli::add_ledger_command(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const paraserve::Error& e) {
    std::fprintf(stderr, "paraserve: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "paraserve: unexpected error: %s\n", e.what());
    return 3;
  }
  return exit_code;
}
