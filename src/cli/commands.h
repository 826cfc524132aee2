// Each paraserve subcommand lives in its own file and registers itself here.
// A subcommand's callback stores its process exit code in `exit_code`.
#pragma once
#include <CLI/CLI.hpp>

namespace paraserve::cli {

void add_models_command(CLI::App& app, int& exit_code);      // cmd_models.cpp: load + check model dirs
void add_transcribe_command(CLI::App& app, int& exit_code);  // cmd_transcribe.cpp: offline files -> text
void add_serve_command(CLI::App& app, int& exit_code);       // cmd_serve.cpp: WebSocket 2pass server
void add_client_command(CLI::App& app, int& exit_code);      // cmd_client.cpp: streaming client / load driver
void add_bench_command(CLI::App& app, int& exit_code);       // cmd_bench.cpp: network-free benchmarks
void add_soak_command(CLI::App& app, int& exit_code);        // cmd_soak.cpp: memory soak against a server
void add_ledger_command(CLI::App& app, int& exit_code);      // cmd_ledger.cpp: memory ledger -> per-phase table

}  // namespace paraserve::cli
