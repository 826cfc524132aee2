// `paraserve ledger FILE.ndjson`: per-phase memory table from a memory-ledger file
// (written by `paraserve serve --memtrace FILE` or PARASERVE_MEMTRACE). docs/memory-ledger.md.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "observability/ledger_report.h"

namespace paraserve::cli {

namespace {
struct LedgerArgs {
  std::string file;
  bool json = false;
};
}  // namespace

void add_ledger_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<LedgerArgs>();
  auto* sub = app.add_subcommand("ledger", "Summarise a memory-ledger NDJSON file per phase");
  sub->add_option("file", args->file, "Ledger file written by --memtrace / PARASERVE_MEMTRACE")->required();
  sub->add_flag("--json", args->json, "Print the report as JSON instead of a table");
  sub->callback([args, &exit_code] {
    LedgerReport report = build_ledger_report_file(args->file);  // throws Error naming the file
    std::string out = args->json ? format_ledger_json(report) : format_ledger_table(report);
    std::fwrite(out.data(), 1, out.size(), stdout);
    if (report.events == 0) {
      std::fprintf(stderr, "paraserve ledger: %s: no ledger events found (%llu unreadable lines)\n",
                   args->file.c_str(), static_cast<unsigned long long>(report.bad_lines));
      exit_code = 1;
      return;
    }
    exit_code = 0;
  });
}

}  // namespace paraserve::cli
