// Subcommand registration for the `recforge` binary. Each add_* function adds
// one subcommand (with its --help) to the app; its callback does the work and
// throws recforge::Error on failure (main() maps errors to exit codes).
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace recforge::cli {

// Options every subcommand sees (set on the root app).
struct GlobalOptions {
  std::vector<std::string> plugins;  // --plugin PATH (repeatable)
  std::string log_level;             // --log-level (overrides run.log_level)
  bool log_all_ranks = false;

  // --log-level and --log-all-ranks as config overrides, after the command's own.
  std::vector<std::string> with_logging(std::vector<std::string> overrides) const {
    if (!log_level.empty()) overrides.push_back("run.log_level=" + log_level);
    if (log_all_ranks) overrides.push_back("run.log_all_ranks=true");
    return overrides;
  }
};

void add_config_command(CLI::App& app, const GlobalOptions& global);
void add_train_command(CLI::App& app, const GlobalOptions& global);
void add_data_command(CLI::App& app, const GlobalOptions& global);
void add_preflight_command(CLI::App& app, const GlobalOptions& global);
void add_serve_command(CLI::App& app, const GlobalOptions& global);
void add_report_command(CLI::App& app, const GlobalOptions& global);
void add_export_command(CLI::App& app, const GlobalOptions& global);
void add_evaluate_command(CLI::App& app, const GlobalOptions& global);

}  // namespace recforge::cli
