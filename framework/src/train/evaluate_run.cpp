// evaluate_checkpoint: a checkpoint's metrics, read-only (see evaluate_run.hpp).
#include "recforge/train/evaluate_run.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "recforge/checkpoint/checkpoint_file.hpp"
#include "recforge/checkpoint/checkpointer.hpp"
#include "recforge/checkpoint/repository.hpp"
#include "recforge/comm/communicator.hpp"
#include "recforge/comm/watchdog.hpp"
#include "recforge/config/job_config.hpp"
#include "recforge/data/interactions.hpp"
#include "recforge/eval/evaluator.hpp"
#include "recforge/log/logging.hpp"
#include "recforge/model/model.hpp"
#include "recforge/registry/plugin_registry.hpp"
#include "recforge/train/job_session.hpp"

namespace recforge {
namespace {

namespace fs = std::filesystem;

// The top-level section an --set assignment ("eval.k=[10]") changes.
std::string section_of(const std::string& assignment) {
  return assignment.substr(0, assignment.find_first_of(".="));
}

// The run's plugin libraries as this machine has them. Its config names them
// by absolute path on the machine that trained it; a --plugin library of the
// same file name stands in for the saved path (another host, a moved or newer
// build), and a saved path that is not here without one is an error saying so.
void use_local_plugins(ConfigNode& raw, const std::vector<std::string>& given) {
  const ConfigNode* listed = raw.find("plugins");
  if (listed == nullptr || !listed->is_list()) return;
  ConfigNode local = ConfigNode::list(listed->path(), listed->location());
  for (const ConfigNode& item : listed->items()) {
    if (!item.is_scalar()) {  // the schema's to refuse
      local.push_back(item);
      continue;
    }
    std::string path = item.as_string();
    const auto here = std::find_if(given.begin(), given.end(), [&](const std::string& library) {
      return fs::path(library).filename() == fs::path(path).filename();
    });
    std::error_code ec;
    if (here != given.end()) {
      path = *here;
    } else {
      RF_CHECK_KIND(ErrorKind::kNotFound, path.empty() || fs::exists(path, ec),
                    "the run was trained with the plugin library '", path,
                    "', which is not on this machine; pass --plugin with the path of its copy here (a library "
                    "of the same file name, ", fs::path(path).filename().string(), ", stands in for it)");
    }
    local.push_back(ConfigNode::scalar(path, item.path(), item.location()));
  }
  raw.set("plugins", std::move(local));
}

// The config the checkpoint was trained with, with the user's overrides and
// this machine's plugin paths; an eval section with the ranking defaults when
// the run had none.
ConfigNode job_config_of(const checkpoint::CheckpointReader& reader, const EvaluateOptions& options) {
  ConfigNode raw = load_config_string(reader.meta().config_yaml, reader.label() + "@config");
  if (const ConfigNode* eval = raw.find("eval"); eval == nullptr || eval->is_null()) {
    apply_config_override(raw, "eval.type=ranking");
  }
  for (const std::string& assignment : options.overrides) {
    const std::string section = section_of(assignment);
    RF_CHECK_KIND(ErrorKind::kConfig, section != "model", "--set ", assignment,
                  ": evaluate keeps the checkpoint's model section (its parameters were trained with it); "
                  "data, eval, run and comm keys can change");
    // train.* and checkpoint.* would be accepted and do nothing; plugins come from --plugin.
    RF_CHECK_KIND(ErrorKind::kConfig, section == "data" || section == "eval" || section == "run" || section == "comm",
                  "--set ", assignment, ": evaluate does not use the ", section,
                  " section; data, eval, run and comm keys can change",
                  section == "plugins" ? std::string(" (plugin libraries: --plugin PATH)") : std::string());
    apply_config_override(raw, assignment);
  }
  use_local_plugins(raw, options.plugins);
  return resolve_job_config(std::move(raw), options.plugins);
}

// Equal names and values, NaN equal to NaN (a metric without users is NaN).
bool same_metrics(const MetricValues& a, const MetricValues& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
    return x.first == y.first && (x.second == y.second || (std::isnan(x.second) && std::isnan(y.second)));
  });
}

checkpoint::CheckpointReader reader_of(const checkpoint::LoadedVersion& loaded) {
  return {loaded.checkpoint_bytes, loaded.version.path + "/" + checkpoint::kCheckpointFile};
}

}  // namespace

EvaluateResult evaluate_checkpoint(const EvaluateOptions& options, DistributedRuntime& runtime) {
  RF_CHECK_KIND(ErrorKind::kConfig, options.split == "test" || options.split == "valid", "split '", options.split,
                "': expected test or valid");
  const checkpoint::CheckpointRepository repository(checkpoint::checkpoint_dir_of(options.checkpoint_dir));
  // Each rank verifies the newest version itself; the ranks agree below.
  checkpoint::LoadedVersion loaded = repository.require_latest();
  ConfigNode job = job_config_of(reader_of(loaded), options);
  JobSession session(job, runtime, /*heartbeat_dir=*/"");
  Communicator& comm = session.comm();

  // A trainer may publish a version between two ranks' reads: rank 0's wins.
  // (The first loads precede the communicator's set-up, which waits for the
  // slowest under comm.watchdog_timeout: the config that names the other
  // deadline is in the checkpoint.)
  const std::string chosen = comm.allgather_string(loaded.version.name)[0];
  {
    const Watchdog::IoWait io(comm.watchdog(), "a rank loads version " + chosen + " again");
    if (loaded.version.name != chosen) {
      loaded = repository.load(repository.version(chosen));
      job = job_config_of(reader_of(loaded), options);
    }
    session.check_same_config(job.to_yaml());
  }
  const checkpoint::CheckpointReader reader = reader_of(loaded);
  const checkpoint::Meta& meta = reader.meta();

  const auto seed = static_cast<std::uint64_t>(job.section("run").get_int("seed"));
  const data::Dataset dataset = session.prepare_dataset(job.section("data"), seed);
  RF_CHECK_KIND(ErrorKind::kConfig, dataset.fingerprint == meta.dataset_fingerprint, reader.label(),
                " was trained on different data (fingerprint ", meta.dataset_fingerprint.substr(0, 12),
                ", the data section now gives ", dataset.fingerprint.substr(0, 12),
                "): its rows would be other users and items; evaluate it on the data it was trained on");
  const data::InteractionTable& heldout = options.split == "valid" ? dataset.valid : dataset.test;
  RF_CHECK_KIND(ErrorKind::kConfig, heldout.size() > 0, "the data of ", reader.label(), " has no ", options.split,
                " split", options.split == "valid" ? " (it was trained without data.split.valid_ratio or validation_item)" : "");

  // The model as training built it, then the checkpoint's parameters.
  const Resources& resources = session.resources();
  const ConfigNode& model_config = job.section("model");
  auto model = ModelRegistry::instance().get(model_config.get_string("type")).create(model_config);
  checkpoint::require_model_revision(meta, *model, reader.label());
  model->build(ModelContext{&dataset, &resources, &comm, seed});
  for (Parameter* p : model->parameters()) {
    p->value().copy_from(reader.parameter(p->name(), p->value().shape()).value, resources.stream());
  }
  resources.synchronize();

  const ConfigNode& eval_config = job.section("eval");
  auto evaluator = EvaluatorRegistry::instance().get(eval_config.get_string("type")).create(eval_config);
  RF_CHECK_KIND(ErrorKind::kConfig, options.repeat >= 1, "--repeat ", options.repeat, ": expected at least 1");
  EvaluateResult result;
  const EvalContext context{&dataset, &resources, &comm, seed};
  for (int i = 0; i < options.repeat; ++i) {
    comm.barrier();  // time the evaluation alone, from a common start
    const auto start = std::chrono::steady_clock::now();
    MetricValues values = evaluator->evaluate(*model, heldout, context);
    result.times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    // The same model on the same data: a repeat that differs is a bug worth stopping for.
    RF_CHECK_AGREED(ErrorKind::kInternal, i == 0 || same_metrics(values, result.metrics), "evaluation ", i + 1,
                    " gave other metrics than the first (non-deterministic evaluator)");
    result.metrics = std::move(values);
  }
  std::vector<double> sorted = result.times;
  std::sort(sorted.begin(), sorted.end());
  result.seconds = sorted[sorted.size() / 2];
  result.checkpoint_dir = fs::absolute(repository.dir()).lexically_normal().string();
  result.version = loaded.version.name;
  result.step = loaded.manifest.step;
  result.epoch = loaded.manifest.epoch;
  result.model = meta.model_type;
  result.split = options.split;
  result.device = session.device().str();
  result.heldout = heldout.size();
  result.ranks = comm.world_size();
  result.table = evaluator->format(result.metrics);
  return result;
}

std::string evaluate_result_json(const EvaluateResult& r) {
  // As eval.json writes them (NaN as "NaN"; nlohmann would write null).
  const auto metrics = nlohmann::ordered_json::parse(metric_values_json(r.metrics));
  const nlohmann::ordered_json doc = {{"checkpoint", r.checkpoint_dir}, {"version", r.version}, {"step", r.step},
                                      {"epoch", r.epoch},  {"model", r.model},     {"split", r.split},
                                      {"heldout", r.heldout}, {"ranks", r.ranks}, {"device", r.device},
                                      {"seconds", r.seconds}, {"times", r.times},   {"metrics", metrics}};
  return doc.dump(2) + "\n";
}

}  // namespace recforge
