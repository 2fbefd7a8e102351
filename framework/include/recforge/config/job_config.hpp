// The job config: the top-level sections of a recforge YAML file, each declared
// by the component that reads it, assembled here.
//
//   run:      name, output directory, seed, threads, device, logging
//   plugins:  out-of-tree plugin libraries to load before validation
//   data:     input files, parsing, filtering, split (recforge/data/prepare.hpp)
//   model:    `type:` picks a registered model; the rest is that model's schema
//
// Later components (data, train, eval, checkpoint, comm) add their sections in
// job_config.cpp. configs/README.md is generated from job_schema_markdown().
#pragma once

#include <string>
#include <vector>

#include "recforge/config/schema.hpp"

namespace recforge {

Schema run_schema();
// The full schema. Model sections resolve through the model registry.
Schema job_schema();

// Loads `path`, applies `overrides` ("a.b=v"), loads the plugin libraries it
// lists (and `extra_plugins`), then validates. Throws kConfig errors.
ConfigNode load_job_config(const std::string& path, const std::vector<std::string>& overrides = {},
                           const std::vector<std::string>& extra_plugins = {});
// Validates an already-loaded raw tree the same way.
ConfigNode resolve_job_config(ConfigNode raw, const std::vector<std::string>& extra_plugins = {});
// Validates a `model:` section alone against its registered model's schema
// (never loads plugins: for configs read back from checkpoints).
ConfigNode resolve_model_section(const ConfigNode& raw_model);

// Markdown reference of every key, including each registered model's section.
std::string job_schema_markdown();

}  // namespace recforge
