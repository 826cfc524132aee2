// Placeholder until the 'ledger' subcommand lands; replaced by its owner.
#include "cli/commands.h"
#include <cstdio>

namespace paraserve::cli {
void add_ledger_command(CLI::App& app, int& exit_code) {
  auto* sub = app.add_subcommand("ledger", "(ledger: not built yet)");
  sub->callback([&exit_code] { std::fprintf(stderr, "paraserve ledger: not built yet\n"); exit_code = 2; });
}
}  // namespace paraserve::cli
