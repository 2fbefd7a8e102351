// `recforge config show|keys`: print a fully resolved config, or the reference
// of every key (the source of configs/README.md).
#include <CLI/CLI.hpp>

#include <cstdio>

#include "commands.hpp"
#include "recforge/config/job_config.hpp"
#include "recforge/registry/plugin_loader.hpp"

namespace recforge::cli {

void add_config_command(CLI::App& app, const GlobalOptions& global) {
  CLI::App* config = app.add_subcommand("config", "inspect configs: resolved values, defaults, every key");
  config->require_subcommand(1);

  struct ShowOptions {
    std::string file;
    std::vector<std::string> overrides;
  };
  auto show_options = std::make_shared<ShowOptions>();
  CLI::App* show = config->add_subcommand(
      "show", "validate a config and print it with every default filled in (errors name file:line and key)");
  show->add_option("file", show_options->file, "YAML config")->required();
  show->add_option("--set", show_options->overrides, "override a key: --set train.epochs=3 (repeatable)");
  show->callback([show_options, &global] {
    const ConfigNode resolved = load_job_config(show_options->file, show_options->overrides, global.plugins);
    std::fputs(resolved.to_yaml().c_str(), stdout);
  });

  CLI::App* keys = config->add_subcommand("keys", "print every config key with its type, default and meaning "
                                                  "(Markdown; configs/README.md is generated from it)");
  keys->callback([&global] {
    for (const std::string& library : global.plugins) load_plugin_library(library);
    std::fputs(job_schema_markdown().c_str(), stdout);
  });
}

}  // namespace recforge::cli
