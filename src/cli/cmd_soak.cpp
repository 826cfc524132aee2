// Placeholder until the 'soak' subcommand lands; replaced by its owner.
#include "cli/commands.h"
#include <cstdio>

namespace paraserve::cli {
void add_soak_command(CLI::App& app, int& exit_code) {
  auto* sub = app.add_subcommand("soak", "(soak: not built yet)");
  sub->callback([&exit_code] { std::fprintf(stderr, "paraserve soak: not built yet\n"); exit_code = 2; });
}
}  // namespace paraserve::cli
