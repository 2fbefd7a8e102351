// Assembly of the top-level job schema and loading of a job config.
#include "recforge/config/job_config.hpp"

#include <algorithm>
#include <filesystem>

#include "recforge/checkpoint/checkpointer.hpp"
#include "recforge/data/prepare.hpp"
#include "recforge/train/run.hpp"
#include "recforge/train/trainer.hpp"
#include "recforge/eval/evaluator.hpp"
#include "recforge/model/model.hpp"
#include "recforge/registry/plugin_loader.hpp"
#include "recforge/registry/plugin_registry.hpp"

namespace recforge {

Schema run_schema() {
  Schema s("What to call the run, where to write it, and how to run it");
  s.add_string("name", "default", "run name; outputs go to <output_dir>/<name>/")
      .add_string("output_dir", "runs", "parent directory of run directories")
      .add_int("seed", 42, "seed of every random stream (init, shuffling, sampling, splits)", 0)
      .add_int("threads", 0, "CPU threads per rank (0: OMP_NUM_THREADS if set, else the node's cores / its ranks)", 0, 1024)
      .add_string("device", "auto", "where to train: auto (CUDA when a GPU is visible), cpu, cuda",
                  {"auto", "cpu", "cuda"})
      .add_string("log_level", "info", "log level", {"trace", "debug", "info", "warn", "error", "off"})
      .add_bool("log_all_ranks", false, "let every rank print at log_level (default: rank 0 only)");
  return s;
}

namespace {

// The model section: `type` plus the keys the selected model declares.
Schema model_schema_for(const ConfigNode& type) {
  const auto& entry = ModelRegistry::instance().get(type.as_string());
  const Schema own = entry.schema();
  const auto keys = own.keys();
  RF_CHECK_KIND(ErrorKind::kInternal, std::find(keys.begin(), keys.end(), "type") == keys.end(), "model '",
                entry.name, "' declares its own 'type' key; 'type' is reserved");
  Schema s(own.doc());
  s.add_required_string("type", "registered model name", ModelRegistry::instance().names());
  return s.extend(own);
}

// The eval section: `type` plus the keys the selected evaluator declares.
Schema eval_schema_for(const ConfigNode& type) {
  const auto& entry = EvaluatorRegistry::instance().get(type.as_string());
  Schema s(entry.schema().doc());
  s.add_required_string("type", "registered evaluator name", EvaluatorRegistry::instance().names());
  return s.extend(entry.schema());
}

}  // namespace

Schema job_schema() {
  Schema s("A recforge job");
  s.add_section("run", run_schema(), "run identity and placement");
  s.add_string_list("plugins", {}, "out-of-tree plugin libraries (.so) to load before validation");
  s.add_section("data", data::data_schema(), "input data and its preparation");
  s.add_section("train", train_schema(), "the training loop");
  s.add_section("comm", comm_schema(), "distributed communication");
  s.add_section("checkpoint", checkpoint::checkpoint_schema(), "checkpoints, retention and resume");
  s.add_variant_section("model", "type", model_schema_for,
                        "the model: `type` selects a registered model plugin (required by train)",
                        /*required=*/false);
  s.add_variant_section("eval", "type", eval_schema_for,
                        "evaluation after epochs and at the end: `type` selects an evaluator plugin (e.g. ranking)",
                        /*required=*/false);
  return s;
}

ConfigNode resolve_model_section(const ConfigNode& raw_model) {
  RF_CHECK_KIND(ErrorKind::kConfig, raw_model.is_map() && raw_model.find("type") != nullptr, raw_model.where(),
                ": a model section needs a `type`");
  return model_schema_for((*raw_model.find("type"))).resolve(raw_model, "model");
}

ConfigNode resolve_job_config(ConfigNode raw, const std::vector<std::string>& extra_plugins) {
  // Plugins first: they may register the model named in the same file.
  std::vector<std::string> libraries = extra_plugins;
  ConfigNode* listed = raw.find("plugins");
  const bool paths = listed != nullptr && listed->is_list() &&
                     std::all_of(listed->items().begin(), listed->items().end(),
                                 [](const ConfigNode& item) { return item.is_scalar(); });
  if (paths) {  // (anything else is the schema's to refuse)
    // Relative paths are relative to the config file. The resolved config
    // keeps them absolute: it is saved with the run and its checkpoints, and
    // `recforge evaluate` reads it from there, where a relative path would
    // name a file beside the checkpoint.
    ConfigNode absolute = ConfigNode::list(listed->path(), listed->location());
    for (const ConfigNode& item : listed->items()) {
      std::string path = item.as_string();
      if (!path.empty() && path[0] != '/') {
        // (A --set's location names the option, not a file: the working directory.)
        const std::string& file = item.location().file;
        const auto base = file.empty() || file.starts_with("--set ") ? std::filesystem::path()
                                                                     : std::filesystem::path(file).parent_path();
        path = std::filesystem::absolute(base / path).lexically_normal().string();
      }
      libraries.push_back(path);
      absolute.push_back(ConfigNode::scalar(path, item.path(), item.location()));
    }
    raw.set("plugins", std::move(absolute));
  }
  for (const std::string& library : libraries) load_plugin_library(library);
  return job_schema().resolve(raw);
}

ConfigNode load_job_config(const std::string& path, const std::vector<std::string>& overrides,
                           const std::vector<std::string>& extra_plugins) {
  ConfigNode raw = load_config_file(path);
  for (const std::string& assignment : overrides) apply_config_override(raw, assignment);
  return resolve_job_config(std::move(raw), extra_plugins);
}

std::string job_schema_markdown() {
  std::string out = "| key | type | default | description |\n|---|---|---|---|\n";
  out += job_schema().document();
  for (const std::string& name : ModelRegistry::instance().names()) {
    const auto& entry = ModelRegistry::instance().get(name);
    out += "\n### model.type: " + name + "\n\n" + entry.schema().doc() +
           "\n\n| key | type | default | description |\n|---|---|---|---|\n";
    out += entry.schema().document("model");
  }
  for (const std::string& name : EvaluatorRegistry::instance().names()) {
    const auto& entry = EvaluatorRegistry::instance().get(name);
    out += "\n### eval.type: " + name + "\n\n" + entry.schema().doc() +
           "\n\n| key | type | default | description |\n|---|---|---|---|\n";
    out += entry.schema().document("eval");
  }
  return out;
}

}  // namespace recforge
