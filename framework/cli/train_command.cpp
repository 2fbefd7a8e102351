// `recforge train <config> [--resume DIR]`: train a model (see train/run.hpp).
#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "job_failure.hpp"
#include "recforge/checkpoint/repository.hpp"
#include "recforge/comm/runtime.hpp"
#include "recforge/config/job_config.hpp"
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
    run_job_rank(runtime, [&] {
      std::vector<std::string> overrides = global.with_logging(options->overrides);
      if (!options->resume.empty()) {
        // Single-quoted: a path may hold what YAML reads otherwise (" #", ": ", a leading '[').
        std::string quoted = checkpoint::checkpoint_dir_of(options->resume);
        for (std::size_t at = quoted.find('\''); at != std::string::npos; at = quoted.find('\'', at + 2)) {
          quoted.insert(at, 1, '\'');
        }
        overrides.push_back("checkpoint.dir='" + quoted + "'");
        overrides.push_back("checkpoint.resume=required");
      }
      run_training(load_job_config(options->file, overrides, global.plugins), runtime);
    });
  });
}

}  // namespace recforge::cli
