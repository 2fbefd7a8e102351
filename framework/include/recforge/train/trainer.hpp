// The model-agnostic training loop.
//
// For a mini-batch model every step is:
//   batch (this rank's slice of a global batch) -> model.train_step (loss, grads)
//   -> count non-finite values -> gradient sync (dense buckets, sparse rows)
//   -> one small all-reduce deciding together: any NaN/Inf anywhere? any rank
//      asked to stop (SIGUSR1)? -> clip -> optimizer -> logs, fingerprints
// Every rank runs the same number of steps (BatchSchedule), so no rank leaves a
// collective early. An epoch model (ALS) runs model.train_epoch instead.
// Evaluation, early stopping and checkpoints plug in through hooks.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "recforge/checkpoint/checkpoint_file.hpp"
#include "recforge/comm/communicator.hpp"
#include "recforge/config/schema.hpp"
#include "recforge/data/interactions.hpp"
#include "recforge/log/metrics_log.hpp"
#include "recforge/model/model.hpp"
#include "recforge/train/gradient_sync.hpp"

namespace recforge {

Schema train_schema();

// The train section's errors that depend on the model (an epoch model cannot
// skip a step) or on the watched metric (early_stopping.mode against an error
// metric's direction): checked before a job writes into its run directory,
// and again by Trainer::fit.
void check_training_config(const ConfigNode& train_config, const Model& model);

struct TrainerHooks {
  // Called after epochs selected by train.eval_every; returns metrics (every rank calls it).
  std::function<MetricValues(std::int64_t epoch)> evaluate;
  // The split `evaluate` scores, as metrics.jsonl labels its records: "valid",
  // or "test" for data without a validation split.
  std::string eval_split = "valid";
  // Saves a checkpoint at `next` (the next step to run) with the latest
  // evaluation, computed at global step `metrics_step` (-1: unknown); called
  // on every rank after every `checkpoint_every_epochs` epochs, every
  // `checkpoint_every_steps` global steps, on a graceful stop and at the end (`final`).
  std::function<void(const checkpoint::Position& next, const MetricValues& metrics, std::int64_t metrics_step,
                     bool final)>
      checkpoint;
  std::int64_t checkpoint_every_epochs = 1;  // 0: only at the end
  std::int64_t checkpoint_every_steps = 0;   // 0: off
};

struct TrainSummary {
  std::int64_t epochs = 0;          // completed epochs
  std::int64_t steps = 0;           // completed global steps
  bool stopped_by_signal = false;
  bool stopped_early = false;       // early stopping on the validation metric
  double last_epoch_loss = 0;
  std::int64_t epochs_run = 0;     // epochs (whole or partial) run by this process
  MetricValues best_metrics;
  std::int64_t best_epoch = -1;
  double seconds = 0;
  GradientSyncStats sync;
};

// A cheap hash of every parameter's bytes (FNV-1a over 64-bit words), equal on
// all ranks while they are in sync.
std::uint64_t parameter_fingerprint(const std::vector<Parameter*>& params, const Resources& res);

class Trainer {
 public:
  Trainer(const ConfigNode& train_config, Model& model, const data::Dataset& dataset, Communicator& comm,
          const Resources& resources, std::uint64_t seed, MetricsLog* metrics);

  void set_hooks(TrainerHooks hooks) { hooks_ = std::move(hooks); }
  // Continue from a restored position (resume): same batches, learning rates
  // and early-stopping state as the uninterrupted run from there on, and the
  // checkpoint's metrics as the latest evaluation.
  void set_start(const checkpoint::Position& position, MetricValues metrics, std::int64_t metrics_step = -1) {
    start_ = position;
    last_metrics_ = std::move(metrics);
    last_metrics_step_ = metrics_step;
  }
  TrainSummary fit();

  std::int64_t steps_per_epoch() const { return steps_per_epoch_; }

 private:
  struct EpochResult {
    double loss_sum = 0;
    std::int64_t examples = 0;
    bool stop = false;
    std::int64_t next_step = 0;  // steps of the epoch done (== steps_per_epoch when complete)
  };
  // Runs steps [first_step, steps_per_epoch) of `epoch`; `partial` carries the
  // loss sums of the steps before first_step (resume).
  EpochResult run_minibatch_epoch(std::int64_t epoch, std::int64_t first_step, EpochResult partial,
                                  TrainSummary& summary);
  EpochResult run_full_epoch(std::int64_t epoch);
  // Non-finite values of a step, tallied on the device and read back once,
  // after the gradient exchange: this rank's own (loss, gradients, parameter
  // values the step used; tallied before the exchange, so that a message
  // names the rank where one appeared) and the exchanged gradients (a sum of
  // finite gradients can overflow).
  struct StepTally {
    Tensor counts;  // [2i] gradient of param i, [2i+1] its values used, [2P+i] its exchanged gradient, [3P] loss
  };
  StepTally tally_own_values(const std::vector<Parameter*>& params, const StepStats& stats) const;
  void tally_exchanged_gradients(const std::vector<Parameter*>& params, StepTally& tally) const;
  // This rank's own non-finite values (named in `where`), those in the
  // exchanged gradients (`exchanged`), and the step's loss (`loss`: in, the
  // host sum; out, the sum the model left on the device in stats.loss).
  std::int64_t read_step_tally(const std::vector<Parameter*>& params, const StepStats& stats, const StepTally& tally,
                               double& loss, std::string& where, std::int64_t& exchanged) const;
  std::int64_t count_nonfinite_parameters() const;
  void clip_gradients(const std::vector<Parameter*>& params);
  void check_fingerprints(std::int64_t step);
  enum class Corruption { kNan, kHuge, kBitFlip };
  void corrupt_value(Tensor& t, std::int64_t index, Corruption how);
  void poison_a_used_value(const std::vector<Parameter*>& params);
  void log(std::int64_t step, std::int64_t epoch, const std::string& split, const MetricValues& values);

  const ConfigNode& config_;
  Model& model_;
  const data::Dataset& dataset_;
  Communicator& comm_;
  const Resources& resources_;
  std::uint64_t seed_;
  MetricsLog* metrics_;
  checkpoint::Position position(std::int64_t epoch, std::int64_t next_step, std::int64_t global_step,
                                const EpochResult& partial) const;

  TrainerHooks hooks_;
  checkpoint::Position start_;
  std::int64_t steps_per_epoch_ = 0;
  std::int64_t last_step_ = 0;  // global steps the run takes: the epochs', or max_steps when fewer
  // Early stopping and the latest evaluation (saved in checkpoints).
  double best_ = 0;
  std::int64_t best_epoch_ = -1;
  std::int64_t evals_since_best_ = 0;
  MetricValues last_metrics_;
  std::int64_t last_metrics_step_ = -1;
};

}  // namespace recforge
