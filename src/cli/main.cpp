// paraserve: streaming speech recognition server, drop-in for FunASR's 2pass WebSocket server.
#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "common/error.h"

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
