// `recforge`: the command-line entry point. Parses the command line, sets up
// logging, and runs one subcommand; every recforge::Error becomes a one-line
// message and an exit code (exit_codes.hpp), never a crash.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "commands.hpp"
#include "exit_codes.hpp"
#include "recforge/comm/launch_env.hpp"
#include "recforge/core/version.hpp"
#include "recforge/log/logging.hpp"
#include "recforge/registry/kernel_registry.hpp"

int main(int argc, char** argv) {
  using namespace recforge;
  const LaunchEnv env = read_launch_env();
  log::init(env.rank, env.world_size);

  CLI::App app("recforge: data-parallel recommender training (ALS, NCF, two-tower, SASRec, LightGCN)\n"
               "on CPU ranks (MPI) and GPUs (NCCL), with HDF5 checkpoints and an HTTP server.",
               "recforge");
  app.set_version_flag("--version", std::string(version()) + " (" + std::string(git_revision()) + ")");
  app.require_subcommand(1);
  app.fallthrough();  // global options may follow the subcommand too
  cli::GlobalOptions global;
  app.add_option("--plugin", global.plugins, "load an out-of-tree plugin library (repeatable)");
  app.add_option("--log-level", global.log_level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  app.add_flag("--log-all-ranks", global.log_all_ranks, "let every rank print, not only rank 0");

  cli::add_train_command(app, global);
  cli::add_config_command(app, global);
  cli::add_data_command(app, global);
  cli::add_preflight_command(app, global);
  cli::add_serve_command(app, global);
  cli::add_report_command(app, global);
  cli::add_export_command(app, global);
  cli::add_evaluate_command(app, global);

  try {
    app.parse(argc, argv);
    return cli::kExitOk;
  } catch (const CLI::ParseError& e) {
    // CLI11 prints the message; its own codes (105, 106, ...) are not ours:
    // every bad command line exits 2, as the exit-code table says (help 0).
    return app.exit(e) == 0 ? cli::kExitOk : cli::kExitUsage;
  } catch (const Error& e) {
    std::fprintf(stderr, "recforge: %s: %s\n", std::string(error_kind_name(e.kind())).c_str(),
                 e.message().c_str());
    log::debug("raised at {}:{}", e.file(), e.line());
    return cli::exit_code_for(e.kind());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "recforge: unexpected error: %s\n", e.what());
    return cli::kExitFailure;
  }
}
