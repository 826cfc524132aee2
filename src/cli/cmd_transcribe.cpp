// Placeholder until the 'transcribe' subcommand lands; replaced by its owner.
#include "cli/commands.h"
#include <cstdio>

namespace paraserve::cli {
void add_transcribe_command(CLI::App& app, int& exit_code) {
  auto* sub = app.add_subcommand("transcribe", "(transcribe: not built yet)");
  sub->callback([&exit_code] { std::fprintf(stderr, "paraserve transcribe: not built yet\n"); exit_code = 2; });
}
}  // namespace paraserve::cli
