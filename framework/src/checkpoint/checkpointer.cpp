// Collective checkpoint save and restore for a training run (see checkpointer.hpp).
#include "recforge/checkpoint/checkpointer.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "recforge/comm/communicator.hpp"
#include "recforge/comm/watchdog.hpp"
#include "recforge/config/config_node.hpp"
#include "recforge/core/fault.hpp"
#include "recforge/core/resources.hpp"
#include "recforge/core/sha256.hpp"
#include "recforge/data/interactions.hpp"
#include "recforge/eval/metric_direction.hpp"
#include "recforge/io/paths.hpp"
#include "recforge/kernels/rows.hpp"
#include "recforge/log/logging.hpp"
#include "recforge/model/model.hpp"
#include "recforge/train/trainer.hpp"

namespace recforge::checkpoint {
namespace fs = std::filesystem;

void require_model_revision(const Meta& meta, const Model& model, const std::string& label) {
  RF_CHECK_KIND(ErrorKind::kConfig, meta.model_revision == model.revision(), label, ": a '", meta.model_type,
                "' checkpoint of model revision ", meta.model_revision, "; this recforge's '", model.type(),
                "' is revision ", model.revision(),
                ", whose parameters compute another function (see the model's README): retrain, or use the "
                "release that wrote it");
}

Schema checkpoint_schema() {
  Schema s("versioned HDF5 checkpoints of the run (format: framework/README.md)");
  s.add_bool("enabled", true, "write checkpoints")
      .add_string("dir", "", "checkpoint directory (empty: <run dir>/checkpoints)")
      .add_int("every_epochs", 1, "save after every N epochs (0: only at the end)", 0)
      .add_int("every_steps", 0, "also save every N global steps (0: off; a full-batch model such as ALS takes one step an epoch)", 0)
      .add_int("keep_last", 3, "newest versions kept", 1)
      .add_int("keep_every", 0, "also keep versions whose step is a multiple of N (0: off)", 0)
      .add_optional_string("keep_best", "also keep the best version by this evaluation metric, e.g. recall@20")
      .add_optional_string("keep_best_mode",
                           "max: larger keep_best values are better, min: smaller (none: min for rmse and mae, else max)",
                           {"max", "min"})
      .add_string("resume", "auto",
                  "auto: continue from the newest valid version if there is one; required: continue or fail; never: "
                  "start fresh (refused if the directory holds versions)",
                  {"auto", "required", "never"});
  return s;
}

Serving serving_tables(const data::Dataset& dataset) {
  Serving s;
  const std::int32_t users = dataset.num_users(), items = dataset.num_items();
  s.item_popularity.assign(static_cast<std::size_t>(items), 0);
  s.seen_offsets.assign(static_cast<std::size_t>(users) + 1, 0);
  for (std::int64_t r = 0; r < dataset.train.size(); ++r) {
    ++s.item_popularity[static_cast<std::size_t>(dataset.train.item[static_cast<std::size_t>(r)])];
    ++s.seen_offsets[static_cast<std::size_t>(dataset.train.user[static_cast<std::size_t>(r)]) + 1];
  }
  for (std::size_t u = 0; u < static_cast<std::size_t>(users); ++u) s.seen_offsets[u + 1] += s.seen_offsets[u];
  // A stable counting sort: each user's items keep their training (time) order.
  s.seen_items.resize(static_cast<std::size_t>(dataset.train.size()));
  std::vector<std::int64_t> next(s.seen_offsets.begin(), s.seen_offsets.end() - 1);
  for (std::int64_t r = 0; r < dataset.train.size(); ++r) {
    const auto u = static_cast<std::size_t>(dataset.train.user[static_cast<std::size_t>(r)]);
    s.seen_items[static_cast<std::size_t>(next[u]++)] = dataset.train.item[static_cast<std::size_t>(r)];
  }
  return s;
}

namespace {

std::string normalized_dir(const std::string& dir) { return fs::absolute(dir).lexically_normal().string(); }

// Test builds only: restore variants that must break bit-identical resume
// (the negative controls of RELIABILITY.md F3).
std::string restore_skip() {
  const char* v = std::getenv("RF_RESTORE_SKIP");
  return fault::enabled_in_build() && v != nullptr ? std::string(v) : std::string();
}

std::string sha256_hex(const std::string& text) { return Sha256::hex(Sha256::of(text.data(), text.size())); }

}  // namespace

Checkpointer::Checkpointer(const ConfigNode& section, const std::string& run_dir, std::string config_yaml, Model& model,
                           const data::Dataset& dataset, Communicator& comm, const Resources& resources,
                           std::uint64_t seed)
    : enabled_(section.get_bool("enabled")),
      resume_(section.get_string("resume")),
      dir_given_(!section.get_string("dir").empty()),
      every_steps_(section.get_int("every_steps")),
      every_epochs_(section.get_int("every_epochs")),
      repository_(section.get_string("dir").empty() ? (fs::path(run_dir) / "checkpoints").string()
                                                    : section.get_string("dir")),
      config_yaml_(std::move(config_yaml)),
      model_(model),
      dataset_(dataset),
      comm_(comm),
      resources_(resources),
      seed_(seed) {
  RF_CHECK_KIND(ErrorKind::kConfig, !enabled_ || io::absent_or_directory(repository_.dir()), section["dir"].where(), ": the checkpoint directory ", repository_.dir(),
                " exists and is not a directory");
  retention_.keep_last = section.get_int("keep_last");
  retention_.keep_every = section.get_int("keep_every");
  if (!section["keep_best"].is_null()) retention_.best_metric = section.get_string("keep_best");
  retention_.maximize = retention_.best_metric.empty() || maximize_metric(section["keep_best_mode"], retention_.best_metric);
}

Contents Checkpointer::contents(const Position& position, const MetricValues& metrics) {
  Contents c;
  c.meta.model_type = std::string(model_.type());
  c.meta.model_revision = model_.revision();
  c.meta.world_size = comm_.world_size();
  c.meta.seed = seed_;
  c.meta.dataset_name = dataset_.name;
  c.meta.dataset_fingerprint = dataset_.fingerprint;
  c.meta.config_yaml = config_yaml_;
  c.meta.created = utc_timestamp();
  c.position = position;
  for (Parameter* p : model_.parameters()) {
    // Never publish a poisoned state (RELIABILITY.md N1).
    const std::int64_t bad = kernels::count_nonfinite(resources_, p->value());
    RF_CHECK_KIND(ErrorKind::kNumerical, bad == 0, "parameter '", p->name(), "' holds ", bad,
                  " non-finite values; no checkpoint is written from this state");
    ParameterState state{p->name(), p->is_embedding() ? "embedding" : "dense", p->value().to(Device::cpu(), resources_.stream()), {}};
    for (const auto& [slot, value] : p->states()) {
      const std::int64_t bad_slot = kernels::count_nonfinite(resources_, value);
      RF_CHECK_KIND(ErrorKind::kNumerical, bad_slot == 0, "optimizer slot '", p->name(), "/", slot, "' holds ", bad_slot,
                    " non-finite values; no checkpoint is written from this state");
      state.optimizer.push_back({slot, value.to(Device::cpu(), resources_.stream())});
    }
    c.params.push_back(std::move(state));
  }
  if (!serving_) serving_ = serving_tables(dataset_);
  c.serving = *serving_;
  Tensor users, items;
  if (model_.embeddings(users, items)) {
    c.serving.user_embeddings = users.to(Device::cpu(), resources_.stream());
    c.serving.item_embeddings = items.to(Device::cpu(), resources_.stream());
    // (Checked here, naming the model: the reader would refuse the file.)
    const std::int64_t width = c.serving.item_embeddings.size(1);
    c.serving.item_bias_columns = width - model_.item_feature_columns(width);
  }
  resources_.synchronize();
  c.users = dataset_.users;
  c.items = dataset_.items;
  c.metrics = metrics;
  return c;
}

void Checkpointer::save(const Position& position, const MetricValues& metrics, std::int64_t metrics_step) {
  if (!enabled_) return;
  // A keep_best metric the evaluation does not report would keep nothing
  // (checked, as train.early_stopping.metric is, once there are metrics; every
  // rank has the same ones, so every rank throws).
  if (!retention_.best_metric.empty() && !metrics.empty()) {
    std::string names;
    bool found = false;
    for (const auto& [name, value] : metrics) {
      found = found || name == retention_.best_metric;
      names += (names.empty() ? "" : ", ") + name;
    }
    RF_CHECK_AGREED(ErrorKind::kConfig, found, "checkpoint.keep_best '", retention_.best_metric,
                    "' is not among the evaluation metrics (", names, ")");
  }
  const auto fingerprint = static_cast<std::int64_t>(parameter_fingerprint(model_.parameters(), resources_));
  const std::vector<std::int64_t> fingerprints = comm_.allgather_int(fingerprint);
  for (int r = 1; r < comm_.world_size(); ++r) {
    RF_CHECK_AGREED(ErrorKind::kCommunication, fingerprints[static_cast<std::size_t>(r)] == fingerprints[0],
                    "parameters differ between rank 0 and rank ", r, " at step ", position.global_step,
                    " (silent divergence); no checkpoint is written from this state");
  }
  // The other ranks wait while rank 0 writes, hashes and publishes.
  const Watchdog::IoWait io(comm_.watchdog(), fmt::format("rank 0 writes checkpoint step {}", position.global_step));
  std::string status;
  if (comm_.rank() == 0) {
    try {
      const Contents c = contents(position, metrics);
      Manifest m;
      m.format_version = kFormatVersion;
      m.epoch = position.epoch;
      m.world_size = comm_.world_size();
      m.model_type = c.meta.model_type;
      m.config_sha256 = sha256_hex(config_yaml_);
      m.dataset_fingerprint = dataset_.fingerprint;
      m.metrics = metrics;
      m.metrics_step = metrics.empty() ? -1 : metrics_step;
      m.created = utc_timestamp();
      const Version v = repository_.publish(
          position.global_step, [&](const std::string& path) { write_checkpoint(path, c); }, m, comm_.rank());
      const auto removed = repository_.apply_retention(retention_, comm_.rank());
      log::info("checkpoint {} saved{}", v.path,
                removed.empty() ? std::string() : fmt::format(" (removed {})", fmt::join(removed, ", ")));
    } catch (const Error& e) {
      // The kind travels as the first character, so every rank exits alike
      // (a poisoned state is a numerical failure, not an I/O one).
      status = std::string(1, static_cast<char>('A' + static_cast<int>(e.kind()))) + e.what();
    } catch (const std::exception& e) {
      status = std::string(1, static_cast<char>('A' + static_cast<int>(ErrorKind::kIo))) + e.what();
    }
  }
  const std::vector<std::string> statuses = comm_.allgather_string(status);
  if (!statuses[0].empty()) {
    RF_THROW_AGREED(static_cast<ErrorKind>(statuses[0][0] - 'A'), "checkpoint at step ", position.global_step,
                    " failed on rank 0: ", statuses[0].substr(1), " (the versions already in ", repository_.dir(),
                    " are unchanged)");
  }
}

std::optional<Position> Checkpointer::restore() {
  // Every rank must look at the same directory (RELIABILITY.md C3).
  const std::string mine = normalized_dir(repository_.dir());
  const std::vector<std::string> dirs = comm_.allgather_string(mine);
  for (int r = 1; r < comm_.world_size(); ++r) {
    RF_CHECK_AGREED(ErrorKind::kConfig, dirs[static_cast<std::size_t>(r)] == dirs[0], "rank 0 resumes from ", dirs[0],
                    " but rank ", r, " from ", dirs[static_cast<std::size_t>(r)], "; give every rank the same --resume");
  }
  // Rank 0 lists and verifies versions, then every rank loads the chosen one.
  const Watchdog::IoWait io(comm_.watchdog(), "rank 0 chooses and loads a checkpoint to resume from");
  const std::string skip = restore_skip();
  std::string chosen, error;
  std::optional<LoadedVersion> loaded;
  if (comm_.rank() == 0) {
    try {
      // Only a writer owns the directory (run.cpp locks it only then): a job
      // that just reads --resume runs/a would delete a's save in progress.
      if (enabled_) repository_.remove_stale_temporaries();
      const std::vector<Version> versions = repository_.list();
      if (resume_ == "never") {
        RF_CHECK_KIND(ErrorKind::kConfig, versions.empty(), repository_.dir(), " already holds checkpoints (up to ",
                      versions.empty() ? "" : versions.back().name,
                      ") from an earlier run; continue it with --resume, or choose another run.name or checkpoint.dir");
      } else {
        std::vector<std::string> rejected;
        loaded = repository_.load_latest(&rejected);
        for (const std::string& why : rejected) log::warn("checkpoint refused: {}", why);
        if (loaded && skip == "latest") {  // negative control: the previous version instead of the newest
          const auto it = std::find_if(versions.rbegin(), versions.rend(),
                                       [&](const Version& v) { return v.step < loaded->version.step; });
          if (it != versions.rend()) loaded = repository_.load(*it);
        }
        if (loaded) {
          chosen = loaded->version.name;
        } else {
          RF_CHECK_KIND(ErrorKind::kConfig, resume_ != "required", "checkpoint.resume is required but ",
                        repository_.dir(), " has no loadable version",
                        rejected.empty() ? std::string() : " (" + fmt::format("{}", fmt::join(rejected, "; ")) + ")");
          // Starting fresh over refused versions would let retention delete
          // them: someone must look first.
          RF_CHECK_KIND(ErrorKind::kConfig, versions.empty(), repository_.dir(), " holds ", versions.size(),
                        " checkpoint version(s) but none loads (", fmt::format("{}", fmt::join(rejected, "; ")),
                        "); move them away or set checkpoint.dir to start fresh");
        }
      }
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  const std::vector<std::string> errors = comm_.allgather_string(error);
  if (!errors[0].empty()) RF_THROW_AGREED(ErrorKind::kConfig, errors[0]);
  chosen = comm_.allgather_string(chosen)[0];
  if (chosen.empty()) {
    if (resume_ != "never") log::info("no checkpoint in {}: starting fresh", repository_.dir());
    return std::nullopt;
  }

  // Every rank loads and verifies the chosen version and fills its model.
  Position position;
  error.clear();
  try {
    if (!loaded) loaded = repository_.load(repository_.version(chosen));
    const CheckpointReader reader(loaded->checkpoint_bytes, loaded->version.path + "/" + kCheckpointFile);
    const Meta& meta = reader.meta();
    RF_CHECK_KIND(ErrorKind::kConfig, meta.model_type == model_.type(), reader.label(), ": a '", meta.model_type,
                  "' checkpoint cannot resume a '", model_.type(), "' model");
    require_model_revision(meta, model_, reader.label());
    RF_CHECK_KIND(ErrorKind::kConfig, meta.dataset_fingerprint == dataset_.fingerprint, reader.label(),
                  ": trained on different data (fingerprint ", meta.dataset_fingerprint.substr(0, 12), ", now ",
                  dataset_.fingerprint.substr(0, 12), "; the data, its options or the synthetic generator changed). ",
                  dir_given_ ? "Resume from checkpoints of this data (checkpoint.dir, --resume), or train afresh "
                               "without them"
                             : "To train afresh, give the job another run.name (--set run.name=...) or move " +
                                   repository_.dir() + " away");
    const ConfigNode saved = load_config_string(meta.config_yaml, reader.label() + "@config");
    const ConfigNode current = load_config_string(config_yaml_, "config");
    RF_CHECK_KIND(ErrorKind::kConfig, saved["model"].to_yaml() == current["model"].to_yaml(), reader.label(),
                  ": the model section differs from the checkpoint's:\n--- checkpoint\n", saved["model"].to_yaml(),
                  "--- now\n", current["model"].to_yaml());
    if (comm_.rank() == 0 && saved["train"].to_yaml() != current["train"].to_yaml()) {
      log::warn("the train section differs from the checkpoint's; resuming with the new one");
    }
    for (Parameter* p : model_.parameters()) {
      const ParameterState state = reader.parameter(p->name(), p->value().shape());
      p->value().copy_from(state.value, resources_.stream());
      if (skip == "optimizer") continue;
      for (const NamedTensor& slot : state.optimizer) p->state(slot.name, resources_.stream()).copy_from(slot.value, resources_.stream());
    }
    resources_.synchronize();
    position = reader.position();
    restored_metrics_ = reader.metrics();
    restored_metrics_step_ = loaded->manifest.metrics_step;
    if (skip == "position") position.step_in_epoch = 0;  // negative control: replay the epoch from its start
    if (meta.world_size != comm_.world_size()) {
      log::warn("resuming a {}-rank checkpoint on {} ranks: same batches, but sums in a different order (not bit-exact)",
                meta.world_size, comm_.world_size());
    }
  } catch (const std::exception& e) {
    error = e.what();
  }
  const std::vector<std::string> load_errors = comm_.allgather_string(error);
  for (int r = 0; r < comm_.world_size(); ++r) {
    if (!load_errors[static_cast<std::size_t>(r)].empty()) {
      RF_THROW_AGREED(ErrorKind::kConfig, "resume failed on rank ", r, ": ", load_errors[static_cast<std::size_t>(r)]);
    }
  }
  log::info("resumed from {}/{} (epoch {}, step {} of the epoch, global step {}); to start over use another "
            "run.name or checkpoint.resume: never with an empty checkpoint.dir",
            repository_.dir(), chosen, position.epoch, position.step_in_epoch, position.global_step);
  return position;
}

}  // namespace recforge::checkpoint
