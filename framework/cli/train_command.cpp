// `recforge train <config> [--resume DIR]`: train a model (see train/run.hpp).
#include <CLI/CLI.hpp>

#include <new>

#include "commands.hpp"
#include "exit_codes.hpp"
#include "recforge/checkpoint/repository.hpp"
#include "recforge/comm/runtime.hpp"
#include "recforge/config/job_config.hpp"
#include "recforge/core/error.hpp"
#include "recforge/model/model.hpp"
#include "recforge/registry/plugin_registry.hpp"
#include "recforge/train/run.hpp"

namespace recforge::cli {

void add_train_command(CLI::App& app, const GlobalOptions& global) {
  struct Options {
    std::string file;
    std::vector<std::string> overrides;
    std::string resume;
  };
  auto options = std::make_shared<Options>();
  CLI::App* train = app.add_subcommand("train", "train a model from a YAML config (under mpirun: data-parallel)");
  train->add_option("config", options->file, "YAML config (see configs/README.md)")->required();
  train->add_option("--set", options->overrides, "override a key: --set train.epochs=3 (repeatable)");
  train->add_option("--resume", options->resume,
                    "continue from the newest valid checkpoint in DIR (a checkpoint directory or a run directory)");
  train->callback([options, &global] {
    // MPI starts here (not in main) so that commands without ranks never need it.
    DistributedRuntime runtime(nullptr, nullptr);
    try {
      std::vector<std::string> overrides = options->overrides;
      if (!global.log_level.empty()) overrides.push_back("run.log_level=" + global.log_level);
      if (global.log_all_ranks) overrides.push_back("run.log_all_ranks=true");
      if (!options->resume.empty()) {
        overrides.push_back("checkpoint.dir=" + checkpoint::checkpoint_dir_of(options->resume));
        overrides.push_back("checkpoint.resume=required");
      }
      run_training(load_job_config(options->file, overrides, global.plugins), runtime);
    } catch (const Error& e) {
      // Other ranks may be waiting in a collective: end the whole job now, with this rank's message.
      if (runtime.launch().world_size > 1) {
        runtime.fail(exit_code_for(e.kind()), "rank " + std::to_string(runtime.launch().rank) + ": " +
                                                  std::string(error_kind_name(e.kind())) + ": " + e.message());
      }
      throw;
    } catch (const std::bad_alloc&) {
      // No retry: the other ranks would wait in the next collective forever.
      const std::string message = "rank " + std::to_string(runtime.launch().rank) +
                                  ": out of memory (host allocation failed); the job stops";
      if (runtime.launch().world_size > 1) runtime.fail(1, message);
      RF_THROW(ErrorKind::kInternal, message);
    } catch (const std::exception& e) {
      if (runtime.launch().world_size > 1) {
        runtime.fail(1, "rank " + std::to_string(runtime.launch().rank) + ": unexpected error: " + e.what());
      }
      throw;
    }
  });
}

}  // namespace recforge::cli
