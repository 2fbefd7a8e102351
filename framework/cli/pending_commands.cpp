// Subcommands whose implementation arrives with later parts of recforge. Each
// has its real --help now so the command tree is stable for scripts.
#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "recforge/core/error.hpp"

namespace recforge::cli {
namespace {

void pending(CLI::App& app, const char* name, const char* help) {
  CLI::App* sub = app.add_subcommand(name, help);
  sub->allow_extras();
  sub->callback([name] {
    RF_THROW(ErrorKind::kNotFound, "`recforge ", name, "` is not implemented in this build yet");
  });
}

}  // namespace

void add_pending_commands(CLI::App& app, const GlobalOptions&) {
  pending(app, "evaluate", "evaluate a checkpoint on a dataset split (ranking metrics, full or sampled)");
}

}  // namespace recforge::cli
