// Checkpoints of a training run: the `checkpoint:` config section, collective
// save (rank 0 writes, every rank learns the outcome) and collective restore
// (every rank loads the same verified version).
//
// Save, on every rank at the same step:
//   parameter fingerprints all-gathered (no checkpoint from diverged ranks)
//   -> rank 0: NaN/Inf check, copy to host, write + publish (repository.hpp),
//      retention
//   -> rank 0's outcome all-gathered: a failed save fails on every rank, with
//      rank 0's message, and the previous versions stay as they were.
// Restore: rank 0 picks the newest version that verifies; every rank checks it
// was given the same directory and version, loads and verifies it itself and
// copies parameters and optimizer slots into the model.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "recforge/checkpoint/checkpoint_file.hpp"
#include "recforge/checkpoint/repository.hpp"
#include "recforge/config/schema.hpp"

namespace recforge {
class Communicator;
class Model;
class Resources;
namespace data {
struct Dataset;
}
}  // namespace recforge

namespace recforge::checkpoint {

Schema checkpoint_schema();

// The serving tables of a dataset (seen items per user, item popularity).
Serving serving_tables(const data::Dataset& dataset);

// A checkpoint written by another revision of `model`'s type (Model::revision)
// holds parameters for another function: an error naming both revisions.
void require_model_revision(const Meta& meta, const Model& model, const std::string& label);

class Checkpointer {
 public:
  // `section` is the resolved `checkpoint:` section; `run_dir` the run directory
  // (the default parent of checkpoints/); `config_yaml` the resolved job.
  Checkpointer(const ConfigNode& section, const std::string& run_dir, std::string config_yaml, Model& model,
               const data::Dataset& dataset, Communicator& comm, const Resources& resources, std::uint64_t seed);

  bool enabled() const { return enabled_; }
  const std::string& dir() const { return repository_.dir(); }
  std::int64_t every_steps() const { return every_steps_; }
  std::int64_t every_epochs() const { return every_epochs_; }

  // Collective. Saves the model at `position` (the next step to run) with the
  // latest evaluation `metrics`, computed at global step `metrics_step` (-1:
  // unknown); keep_best counts a version's metrics only when they are its own.
  // Throws on every rank if the save failed.
  void save(const Position& position, const MetricValues& metrics, std::int64_t metrics_step = -1);

  // Collective, before training. Resumes according to checkpoint.resume (never,
  // auto, required): the restored position, or nullopt for a fresh start.
  // A fresh start into a directory that already holds versions is refused.
  std::optional<Position> restore();
  // The restored version's evaluation (empty before restore() or without one):
  // the trainer's latest metrics until it evaluates again, so the versions it
  // saves before then carry them as the uninterrupted run's do.
  const MetricValues& restored_metrics() const { return restored_metrics_; }
  std::int64_t restored_metrics_step() const { return restored_metrics_step_; }

 private:
  Contents contents(const Position& position, const MetricValues& metrics);

  bool enabled_;
  std::string resume_;
  bool dir_given_;  // checkpoint.dir (or --resume) names the directory, rather than the run's
  std::int64_t every_steps_, every_epochs_;
  Retention retention_;
  CheckpointRepository repository_;
  std::string config_yaml_;
  Model& model_;
  const data::Dataset& dataset_;
  Communicator& comm_;
  const Resources& resources_;
  std::uint64_t seed_;
  std::optional<Serving> serving_;  // computed on the first save (rank 0)
  MetricValues restored_metrics_;
  std::int64_t restored_metrics_step_ = -1;
};

}  // namespace recforge::checkpoint
