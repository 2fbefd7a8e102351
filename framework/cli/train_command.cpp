// `recforge train <config>`: train a model (the trainer arrives with the
// distributed-trainer issue; until a model plugin is built this says so).
#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "recforge/config/job_config.hpp"
#include "recforge/core/error.hpp"
#include "recforge/model/model.hpp"
#include "recforge/registry/plugin_registry.hpp"

namespace recforge::cli {

void add_train_command(CLI::App& app, const GlobalOptions& global) {
  struct Options {
    std::string file;
    std::vector<std::string> overrides;
  };
  auto options = std::make_shared<Options>();
  CLI::App* train = app.add_subcommand("train", "train a model from a YAML config (under mpirun: data-parallel)");
  train->add_option("config", options->file, "YAML config (see configs/README.md)")->required();
  train->add_option("--set", options->overrides, "override a key: --set train.epochs=3 (repeatable)");
  train->callback([options, &global] {
    RF_CHECK_KIND(ErrorKind::kNotFound, !ModelRegistry::instance().names().empty(),
                  "no model plugins are built into this recforge yet, so there is nothing to train");
    const ConfigNode config = load_job_config(options->file, options->overrides, global.plugins);
    RF_CHECK_KIND(ErrorKind::kConfig, !config["model"].is_null(), options->file,
                  ": no model section; add `model:` with a `type:` (see configs/README.md)");
    RF_THROW(ErrorKind::kNotFound, "the trainer is not built yet (config '", options->file, "' is valid)");
  });
}

}  // namespace recforge::cli
