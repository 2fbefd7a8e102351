// The training loop (see trainer.hpp).
#include "recforge/train/trainer.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstring>

#include "recforge/comm/signals.hpp"
#include "recforge/core/fault.hpp"
#include "recforge/core/philox.hpp"
#include "recforge/data/sampler.hpp"
#include "recforge/eval/metric_direction.hpp"
#include "recforge/kernels/reduce.hpp"
#include "recforge/kernels/rows.hpp"
#include "recforge/log/logging.hpp"
#include "recforge/log/progress.hpp"
#include "recforge/train/lr_schedule.hpp"
#include "recforge/train/optimizer.hpp"

namespace recforge {

Schema train_schema() {
  Schema early("stop when the validation metric stops improving");
  early.add_optional_string("metric", "metric to watch, e.g. recall@20 (none: no early stopping)")
      .add_int("patience", 5, "evaluations without improvement before stopping", 1)
      .add_optional_string("mode", "max: larger is better, min: smaller (none: min for rmse and mae, else max)",
                           {"max", "min"});
  Schema s("the training loop");
  s.add_int("epochs", 10, "passes over the training data", 1)
      .add_int("batch_size", 1024, "global batch size (split over ranks)", 1)
      .add_bool("shuffle", true, "shuffle rows every epoch (seeded by run.seed and the epoch)")
      .add_bool("drop_last", false, "drop the last, short global batch of an epoch")
      .add_optional_int("max_steps", "stop after this many global steps", 1)
      .add_section("optimizer", optimizer_schema(), "optimizer")
      .add_section("lr_schedule", lr_schedule_schema(), "learning-rate schedule")
      .add_float("grad_clip", 0.0, "clip the global gradient norm to this (0: off)", 0.0)
      .add_float("sparse_density_threshold", 0.25,
                 "exchange an embedding's gradient densely when touched rows exceed this fraction of its rows", 0.0)
      .add_int("bucket_mb", 25, "dense gradient all-reduce bucket size in MiB", 1, 4096)
      .add_string("nan_policy", "stop",
                  "on NaN/Inf in the loss, the gradients or the parameter values a step used: stop (exit 5) or skip "
                  "the step (a non-finite parameter found by the fingerprint check always stops: skipping cannot "
                  "repair it; epoch models such as ALS only stop)",
                  {"stop", "skip_step"})
      .add_int("fingerprint_every", 100,
               "compare a hash of all parameters across ranks, and check them all for NaN/Inf, every N steps (0: off; "
               "epoch models such as ALS: every N epochs)",
               0)
      .add_int("log_every", 50, "log the training loss every N steps", 1)
      .add_int("eval_every", 1, "evaluate every N epochs (needs an eval section)", 1)
      .add_section("early_stopping", early, "early stopping");
  return s;
}

void check_training_config(const ConfigNode& train_config, const Model& model) {
  // An epoch model's step is its whole epoch: there is no step to skip.
  RF_CHECK_KIND(ErrorKind::kConfig,
                model.training() == Model::Training::kMiniBatch || train_config.get_string("nan_policy") != "skip_step",
                train_config["nan_policy"].where(), ": train.nan_policy skip_step: model ", model.type(),
                " trains a whole epoch per step, which cannot be skipped; use stop");
  const ConfigNode& early = train_config.section("early_stopping");
  if (!early["metric"].is_null()) maximize_metric(early["mode"], early.get_string("metric"));
}

std::uint64_t parameter_fingerprint(const std::vector<Parameter*>& params, const Resources& res) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const Parameter* p : params) {
    const Tensor host = p->value().device().is_cpu() ? p->value() : p->value().to(Device::cpu(), res.stream());
    res.synchronize();
    const auto* bytes = static_cast<const unsigned char*>(host.data());
    for (std::size_t i = 0; i < host.nbytes(); ++i) hash = (hash ^ bytes[i]) * 0x100000001b3ULL;
  }
  return hash;
}

Trainer::Trainer(const ConfigNode& train_config, Model& model, const data::Dataset& dataset, Communicator& comm,
                 const Resources& resources, std::uint64_t seed, MetricsLog* metrics)
    : config_(train_config), model_(model), dataset_(dataset), comm_(comm), resources_(resources), seed_(seed),
      metrics_(metrics) {}

void Trainer::log(std::int64_t step, std::int64_t epoch, const std::string& split, const MetricValues& values) {
  if (metrics_ != nullptr) metrics_->write(step, epoch, split, values);
}

// NaN/Inf in a step's gradients and in the parameter values it read: the rows
// its embedding gradients name (no pass over the tables) and every dense
// parameter. A bad value is caught at the step that used it, even where the
// forward pass hides it (max(0, NaN) is 0). All counts, and the loss a model
// left on the device, are tallied there and read back with one sync per step.
Trainer::StepTally Trainer::tally_own_values(const std::vector<Parameter*>& params, const StepStats& stats) const {
  const auto n = static_cast<std::int64_t>(params.size());
  StepTally tally{Tensor::zeros({3 * n + 1}, DType::kI64, resources_.device(), resources_.stream())};
  for (std::int64_t i = 0; i < n; ++i) {
    Parameter& p = *params[static_cast<std::size_t>(i)];
    if (p.is_embedding()) {
      if (p.rows().size() == 0) continue;
      kernels::tally_nonfinite(resources_, p.rows().values, tally.counts, 2 * i);
      kernels::tally_nonfinite_rows(resources_, p.value(), p.rows().ids, tally.counts, 2 * i + 1);
    } else {
      kernels::tally_nonfinite(resources_, p.grad(resources_.stream()), tally.counts, 2 * i);
      kernels::tally_nonfinite(resources_, p.value(), tally.counts, 2 * i + 1);
    }
  }
  if (stats.loss.defined()) {
    RF_CHECK(stats.loss.device() == resources_.device(), "model '", model_.type(), "': StepStats::loss is on ",
             stats.loss.device().str(), ", not on the training device ", resources_.device().str());
    kernels::tally_sum(resources_, stats.loss, tally.counts, 3 * n);
  }
  return tally;
}

void Trainer::tally_exchanged_gradients(const std::vector<Parameter*>& params, StepTally& tally) const {
  const auto n = static_cast<std::int64_t>(params.size());
  for (std::int64_t i = 0; i < n; ++i) {
    Parameter& p = *params[static_cast<std::size_t>(i)];
    if (p.is_embedding()) {
      if (p.rows().size() > 0) kernels::tally_nonfinite(resources_, p.rows().values, tally.counts, 2 * n + i);
    } else {
      kernels::tally_nonfinite(resources_, p.grad(resources_.stream()), tally.counts, 2 * n + i);
    }
  }
}

std::int64_t Trainer::read_step_tally(const std::vector<Parameter*>& params, const StepStats& stats,
                                      const StepTally& tally, double& loss, std::string& where,
                                      std::int64_t& exchanged) const {
  const std::size_t n = params.size();
  const std::vector<std::int64_t> bad = kernels::read_counts(resources_, tally.counts);
  if (stats.loss.defined()) std::memcpy(&loss, &bad.back(), sizeof loss);  // the slot holds a double
  std::int64_t total = 0;
  exchanged = 0;
  for (std::size_t slot = 0; slot < 2 * n; ++slot) {
    if (bad[slot] == 0) continue;
    where += fmt::format("{}{} in the {} of '{}'", where.empty() ? "" : ", ", bad[slot],
                         slot % 2 == 0 ? "gradient" : "values", params[slot / 2]->name());
    total += bad[slot];
  }
  for (std::size_t i = 0; i < n; ++i) exchanged += bad[2 * n + i];
  return total;
}

std::int64_t Trainer::count_nonfinite_parameters() const {
  Tensor counts = Tensor::zeros({1}, DType::kI64, resources_.device(), resources_.stream());
  for (Parameter* p : model_.parameters()) kernels::tally_nonfinite(resources_, p->value(), counts, 0);
  return kernels::read_counts(resources_, counts)[0];
}

void Trainer::clip_gradients(const std::vector<Parameter*>& params) {
  const double max_norm = config_.get_double("grad_clip");
  if (max_norm <= 0) return;
  // Every parameter tallied on the device, read back once (one sync per step).
  Tensor slots = Tensor::zeros({static_cast<std::int64_t>(params.size())}, DType::kI64, resources_.device(),
                               resources_.stream());
  for (std::size_t i = 0; i < params.size(); ++i) {
    Parameter& p = *params[i];
    if (p.is_embedding() && p.rows().size() == 0) continue;
    kernels::tally_sum_squares(resources_, p.is_embedding() ? p.rows().values : p.grad(resources_.stream()), slots,
                               static_cast<std::int64_t>(i));
  }
  double squares = 0;
  for (const double s : kernels::read_sums(resources_, slots)) squares += s;  // parameter order
  const double norm = std::sqrt(squares);  // gradients are synchronised: the same on every rank
  if (norm <= max_norm) return;
  const auto factor = static_cast<float>(max_norm / (norm + 1e-12));
  for (Parameter* p : params) {
    if (p->is_embedding()) {
      if (p->rows().size()) kernels::scale_inplace(resources_, p->rows().values, factor);
    } else {
      kernels::scale_inplace(resources_, p->grad(resources_.stream()), factor);
    }
  }
}

// RF_FAULT=flip / nan_grad / nan_param / huge_grad: corrupts one value of a
// tensor (on any device), as a bit flip in memory, a NaN from a bad kernel or
// an exploding gradient would.
void Trainer::corrupt_value(Tensor& t, std::int64_t index, Corruption how) {
  Tensor host = t.to(Device::cpu(), resources_.stream());
  resources_.stream().synchronize();
  float* value = host.data_as<float>() + index;
  if (how == Corruption::kNan) {
    *value = std::nanf("");
  } else if (how == Corruption::kHuge) {
    *value = 3e38f;  // finite; two ranks' sum is not
  } else {  // flip a low mantissa bit: invisible to loss curves, visible to the fingerprint
    std::uint32_t bits = 0;
    std::memcpy(&bits, value, sizeof bits);
    bits ^= 1u << 3;
    std::memcpy(value, &bits, sizeof bits);
  }
  t.copy_from(host, resources_.stream());
}

// RF_FAULT=nan_param: the first row the step touched in the first embedding
// table turns NaN (a model without tables: the first dense value).
void Trainer::poison_a_used_value(const std::vector<Parameter*>& params) {
  for (Parameter* p : params) {
    if (!p->is_embedding() || p->rows().size() == 0) continue;
    const Tensor ids = p->rows().ids.to(Device::cpu(), resources_.stream());
    resources_.stream().synchronize();
    corrupt_value(p->value(), static_cast<std::int64_t>(ids.data_as<std::int32_t>()[0]) * p->value().shape()[1],
                  Corruption::kNan);
    return;
  }
  corrupt_value(params.front()->value(), 0, Corruption::kNan);
}

void Trainer::check_fingerprints(std::int64_t step) {
  // A value no step has used yet (a corrupted row) is found here, at the
  // latest, and never reaches a checkpoint (the checkpointer checks too).
  const std::int64_t bad = count_nonfinite_parameters();
  const std::int64_t total_bad = comm_.allreduce_int(bad, ReduceOp::kSum);
  RF_CHECK_AGREED(ErrorKind::kNumerical, total_bad == 0, "step ", step, ": ", total_bad,
                  " non-finite parameter values (", bad > 0 ? "this rank: " + std::to_string(bad) : "on other ranks",
                  "), found by the fingerprint check");
  const auto fingerprint = static_cast<std::int64_t>(parameter_fingerprint(model_.parameters(), resources_));
  const std::vector<std::int64_t> all = comm_.allgather_int(fingerprint);
  for (int r = 1; r < comm_.world_size(); ++r) {
    if (all[static_cast<std::size_t>(r)] != all[0]) {
      RF_THROW_AGREED(ErrorKind::kCommunication, "parameters diverged across ranks at step ", step, ": rank 0 has fingerprint ",
                      fmt::format("{:016x}", static_cast<std::uint64_t>(all[0])), ", rank ", r, " has ",
                      fmt::format("{:016x}", static_cast<std::uint64_t>(all[static_cast<std::size_t>(r)])),
                      " (silent divergence; no checkpoint is written from this state)");
    }
  }
}

Trainer::EpochResult Trainer::run_full_epoch(std::int64_t epoch) {
  EpochResult result;
  const std::string injected = fault::at_step(comm_.rank(), epoch);  // process-level faults, and nan
  const StepStats stats = model_.train_epoch(epoch);
  if (injected == "flip") corrupt_value(model_.parameters().front()->value(), 0, Corruption::kBitFlip);
  result.loss_sum = injected == "nan" ? std::nan("") : stats.read_loss(resources_);
  result.examples = stats.examples;
  const std::int64_t bad_loss = std::isfinite(result.loss_sum) ? 0 : 1;
  std::int64_t flags[3] = {count_nonfinite_parameters(), bad_loss, stop_requested() ? 1 : 0};
  comm_.allreduce_ints(flags, ReduceOp::kSum);
  RF_CHECK_AGREED(ErrorKind::kNumerical, flags[0] == 0 && flags[1] == 0, "epoch ", epoch, ": ", flags[0],
                  " non-finite parameter values after the epoch", flags[1] > 0 ? " and a non-finite loss on " : "",
                  flags[1] > 0 ? std::to_string(flags[1]) + " rank(s)" : "", " (nothing is saved from this state)");
  // Here a step is an epoch: train.fingerprint_every counts epochs.
  const std::int64_t fingerprint_every = config_.get_int("fingerprint_every");
  if (fingerprint_every > 0 && (epoch + 1) % fingerprint_every == 0) check_fingerprints(epoch);
  result.stop = flags[2] > 0;
  return result;
}

checkpoint::Position Trainer::position(std::int64_t epoch, std::int64_t next_step, std::int64_t global_step,
                                       const EpochResult& partial) const {
  checkpoint::Position p;
  p.epoch = epoch;
  p.step_in_epoch = next_step;
  p.global_step = global_step;
  if (next_step > 0) {
    // The whole job's partial sums (every rank calls this at the same step);
    // a resumed rank 0 carries them on (see fit()).
    p.epoch_loss_sum = comm_.allreduce_double(partial.loss_sum, ReduceOp::kSum);
    p.epoch_examples = comm_.allreduce_int(partial.examples, ReduceOp::kSum);
  }
  p.best_value = best_;
  p.best_epoch = best_epoch_;
  p.evals_since_best = evals_since_best_;
  return p;
}

Trainer::EpochResult Trainer::run_minibatch_epoch(std::int64_t epoch, std::int64_t first_step, EpochResult partial,
                                                  TrainSummary& summary) {
  EpochResult result = partial;
  result.stop = false;
  result.next_step = first_step;
  const std::vector<Parameter*> params = model_.parameters();
  const std::int64_t rows = model_.num_examples();
  data::BatchSchedule schedule(rows, config_.get_int("batch_size"), comm_.world_size(), comm_.rank(), seed_,
                               config_.get_bool("shuffle"), config_.get_bool("drop_last"));
  schedule.start_epoch(epoch);
  auto optimizer = make_optimizer(config_.section("optimizer"));
  // The schedule spans the steps the run takes (a larger max_steps is only a cap).
  const LrSchedule lr(config_.section("lr_schedule"), optimizer->base_lr(), steps_per_epoch_, last_step_);
  GradientSync sync(comm_, resources_,
                    {.bucket_bytes = config_.get_int("bucket_mb") << 20,
                     .density_threshold = config_.get_double("sparse_density_threshold")});
  const bool skip_bad_steps = config_.get_string("nan_policy") == "skip_step";
  const std::int64_t log_every = config_.get_int("log_every");
  const std::int64_t fingerprint_every = config_.get_int("fingerprint_every");

  Progress bar(fmt::format("epoch {}", epoch), steps_per_epoch_, "batch");
  double window_loss = 0;
  std::int64_t window_examples = 0;
  auto window_start = std::chrono::steady_clock::now();
  bar.update(first_step, {});
  for (std::int64_t step = first_step; step < steps_per_epoch_; ++step) {
    const std::int64_t global_step = epoch * steps_per_epoch_ + step;
    if (global_step >= last_step_) break;
    const std::string injected = fault::at_step(comm_.rank(), global_step);
    for (Parameter* p : params) p->zero_grad(resources_.stream());
    const auto rows_of_rank = schedule.batch(step);
    const TrainBatch batch{rows_of_rank, static_cast<std::int64_t>(schedule.global_batch(step).size()), epoch, step,
                           global_step};
    const StepStats stats = model_.train_step(batch);
    if (injected == "nan_grad") {
      Parameter& p = *params.front();
      corrupt_value(p.is_embedding() ? p.rows().values : p.grad(resources_.stream()), 0, Corruption::kNan);
    }
    if (injected == "huge_grad") {  // a dense parameter's: all-reduced, so the ranks' values add up
      const auto dense = std::find_if(params.begin(), params.end(), [](Parameter* p) { return !p->is_embedding(); });
      RF_CHECK(dense != params.end(), "RF_FAULT=huge_grad needs a model with a dense parameter");
      corrupt_value((*dense)->grad(resources_.stream()), 0, Corruption::kHuge);
    }
    if (injected == "nan_param") poison_a_used_value(params);
    StepTally tally = tally_own_values(params, stats);
    if (injected != "skip_collective") summary.sync = sync.synchronize(params);
    if (comm_.world_size() > 1) tally_exchanged_gradients(params, tally);  // one rank: its own, already tallied
    std::string where;
    double loss = stats.loss_sum;
    std::int64_t exchanged = 0;
    std::int64_t bad = read_step_tally(params, stats, tally, loss, where, exchanged);
    if (injected == "nan") loss = std::nan("");
    if (!std::isfinite(loss)) {
      ++bad;
      where += (where.empty() ? "" : ", ") + std::string("the loss");
    }
    // One decision for all ranks in one collective: integer SUMs of the
    // non-finite counts (a float sum could overflow, a MAX could drop a NaN)
    // and of the stop requests (any rank's request stops all).
    std::int64_t decision[3] = {bad, exchanged, stop_requested() ? 1 : 0};
    comm_.allreduce_ints(decision, ReduceOp::kSum);
    const std::int64_t total_bad = decision[0];
    const bool stop = decision[2] > 0;
    if (total_bad > 0) {
      if (bad > 0) log::warn("step {}: rank {} found {}", global_step, comm_.rank(), where);
      RF_CHECK_AGREED(ErrorKind::kNumerical, skip_bad_steps, "step ", global_step, ": ", total_bad,
                      " non-finite values in the loss, gradients or parameters used (", bad > 0 ? "this rank: " + where : "on other ranks",
                      "); stopping without applying the step (train.nan_policy: stop)");
      log::warn("step {}: skipped ({} non-finite values; train.nan_policy: skip_step)", global_step, total_bad);
    } else if (decision[1] > 0) {
      // Every rank's own values were finite: their sum was not (the same
      // gradients on every rank, so every rank counts them).
      RF_CHECK_AGREED(ErrorKind::kNumerical, skip_bad_steps, "step ", global_step, ": the gradients after the exchange hold ",
                      exchanged, " non-finite values although every rank's own were finite (their sum overflowed); "
                      "stopping without applying the step (train.nan_policy: stop)");
      log::warn("step {}: skipped ({} non-finite exchanged gradient values; train.nan_policy: skip_step)", global_step,
                exchanged);
    } else {
      clip_gradients(params);
      optimizer->step(resources_, params, static_cast<float>(lr.at(global_step)), global_step);
      result.loss_sum += loss;
      result.examples += stats.examples;
      window_loss += loss;
      window_examples += stats.examples;
    }
    if (injected == "flip") corrupt_value(params.front()->value(), 0, Corruption::kBitFlip);
    summary.steps = global_step + 1;
    result.next_step = step + 1;
    if (fingerprint_every > 0 && (global_step + 1) % fingerprint_every == 0) check_fingerprints(global_step);
    if ((step + 1) % log_every == 0 || step + 1 == steps_per_epoch_) {
      const double loss = comm_.allreduce_double(window_loss, ReduceOp::kSum);
      const auto examples = comm_.allreduce_int(window_examples, ReduceOp::kSum);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - window_start).count();
      const double mean = examples > 0 ? loss / static_cast<double>(examples) : 0.0;
      // The job's examples over the window's time (every rank's, since the last record).
      log(global_step + 1, epoch, "train",
          {{"loss", mean},
           {"lr", lr.at(global_step)},
           {"examples_per_s", seconds > 0 ? static_cast<double>(examples) / seconds : 0.0}});
      bar.update(step + 1, {{"loss", mean}});
      window_loss = 0;
      window_examples = 0;
      window_start = std::chrono::steady_clock::now();
    }
    if (stop) {
      result.stop = true;
      break;
    }
    // Step checkpoints inside the epoch; the epoch's end saves its last step.
    const std::int64_t every = hooks_.checkpoint_every_steps;
    if (hooks_.checkpoint && every > 0 && (global_step + 1) % every == 0 && step + 1 < steps_per_epoch_ &&
        global_step + 1 < last_step_) {
      hooks_.checkpoint(position(epoch, step + 1, global_step + 1, result), last_metrics_, last_metrics_step_, false);
    }
  }
  bar.finish();
  return result;
}

TrainSummary Trainer::fit() {
  TrainSummary summary;
  const auto start = std::chrono::steady_clock::now();
  const std::int64_t epochs = config_.get_int("epochs");
  const bool minibatch = model_.training() == Model::Training::kMiniBatch;
  const std::int64_t global_batch = config_.get_int("batch_size");
  check_training_config(config_, model_);
  RF_CHECK_KIND(ErrorKind::kConfig, !minibatch || global_batch >= comm_.world_size(), "train.batch_size ", global_batch,
                " is smaller than the number of ranks (", comm_.world_size(), ")");
  steps_per_epoch_ = minibatch ? data::BatchSchedule(model_.num_examples(), global_batch, comm_.world_size(),
                                                     comm_.rank(), seed_, config_.get_bool("shuffle"),
                                                     config_.get_bool("drop_last"))
                                     .steps_per_epoch()
                               : 1;
  // Zero steps would pass for a run that had already ended: exit 0, untrained.
  RF_CHECK_KIND(ErrorKind::kConfig, steps_per_epoch_ > 0, config_["drop_last"].where(),
                ": train.drop_last drops every batch: the model trains on ", model_.num_examples(),
                " examples, fewer than train.batch_size ", global_batch,
                "; lower batch_size or set drop_last: false");
  const ConfigNode& early = config_.section("early_stopping");
  const bool early_stopping = !early["metric"].is_null() && hooks_.evaluate;
  const bool maximize = !early_stopping || maximize_metric(early["mode"], early.get_string("metric"));
  last_step_ = epochs * steps_per_epoch_;
  if (!config_["max_steps"].is_null()) last_step_ = std::min(last_step_, config_.get_int("max_steps"));
  RF_CHECK_KIND(ErrorKind::kConfig, start_.step_in_epoch < steps_per_epoch_ || start_.step_in_epoch == 0,
                "the checkpoint is at step ", start_.step_in_epoch, " of an epoch of ", steps_per_epoch_,
                " steps: train.batch_size or the data changed");
  const bool resumed = start_.global_step > 0 || start_.epoch > 0;
  // A checkpoint from before any improvement holds no best (its value is the
  // start of whichever direction it ran with).
  best_ = resumed && start_.best_epoch >= 0 ? start_.best_value : (maximize ? -INFINITY : INFINITY);
  best_epoch_ = resumed ? start_.best_epoch : -1;
  evals_since_best_ = resumed ? start_.evals_since_best : 0;
  summary.steps = start_.global_step;
  summary.epochs = start_.epoch;
  // A checkpoint of a run that had already ended (its last evaluations did
  // not improve on the best within this config's patience, or it took all its
  // steps) has nothing left to train: training on would give another model
  // than the run that was interrupted after its final checkpoint.
  const bool early_stopped_before = early_stopping && resumed && evals_since_best_ >= early.get_int("patience");
  if (early_stopped_before || start_.global_step >= last_step_) {
    log::info("the checkpoint's run had already ended: {}",
              early_stopped_before
                  ? fmt::format("early stopping, {} evaluations without improving on epoch {}", evals_since_best_,
                                best_epoch_)
                  : fmt::format("all its {} steps taken", last_step_));
    summary.stopped_early = early_stopped_before;
    summary.best_epoch = best_epoch_;
    return summary;
  }
  log::info("training {} on {} ranks ({}): {} epochs x {} steps, global batch {}{}", model_.type(), comm_.world_size(),
            comm_.backend(), epochs, steps_per_epoch_, minibatch ? global_batch : dataset_.train.size(),
            resumed ? fmt::format(", resuming at epoch {} step {}", start_.epoch, start_.step_in_epoch) : "");
  for (std::int64_t epoch = start_.epoch; epoch < epochs; ++epoch) {
    const auto epoch_start = std::chrono::steady_clock::now();
    const bool first = epoch == start_.epoch && start_.step_in_epoch > 0;
    EpochResult partial;
    if (first && comm_.rank() == 0) {  // job-wide sums: counted once
      partial.loss_sum = start_.epoch_loss_sum;
      partial.examples = start_.epoch_examples;
    }
    EpochResult r;
    if (minibatch) {
      r = run_minibatch_epoch(epoch, first ? start_.step_in_epoch : 0, partial, summary);
    } else {
      r = run_full_epoch(epoch);
      r.next_step = 1;
      summary.steps = epoch + 1;
    }
    const bool complete = r.next_step >= steps_per_epoch_;
    const bool out_of_steps = summary.steps >= last_step_;
    // A stop that arrives with the run's last step ends it as planned (its
    // final evaluation, eval.json): nothing is left to resume.
    if (r.stop && !complete && !out_of_steps) {
      // A graceful stop inside an epoch: save where we are and leave at once.
      summary.stopped_by_signal = true;
      log::info("stopping at step {} (SIGUSR1)", summary.steps);
      if (hooks_.checkpoint) {
        hooks_.checkpoint(position(epoch, r.next_step, summary.steps, r), last_metrics_, last_metrics_step_, true);
      }
      break;
    }
    const double loss = comm_.allreduce_double(r.loss_sum, ReduceOp::kSum);
    const std::int64_t examples = comm_.allreduce_int(r.examples, ReduceOp::kSum);
    summary.last_epoch_loss = examples > 0 ? loss / static_cast<double>(examples) : loss;
    ++summary.epochs_run;
    summary.epochs = complete ? epoch + 1 : epoch;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
    log::info("epoch {}: loss {:.6g} ({:.2f} s)", epoch, summary.last_epoch_loss, seconds);
    log(summary.steps, epoch, "epoch", {{"loss", summary.last_epoch_loss}, {"seconds", seconds}});
    // Only scheduled evaluations: one forced by a graceful stop would move the
    // early-stopping state, and the resumed run would stop elsewhere than the
    // uninterrupted one.
    if (hooks_.evaluate && ((epoch + 1) % config_.get_int("eval_every") == 0 || epoch + 1 == epochs || out_of_steps)) {
      const MetricValues metrics = hooks_.evaluate(epoch);
      last_metrics_ = metrics;
      last_metrics_step_ = summary.steps;
      log(summary.steps, epoch, hooks_.eval_split, metrics);
      if (early_stopping) {
        const std::string& name = early.get_string("metric");
        const auto it = std::find_if(metrics.begin(), metrics.end(), [&](const auto& m) { return m.first == name; });
        RF_CHECK_AGREED(ErrorKind::kConfig, it != metrics.end(), "train.early_stopping.metric '", name,
                        "' is not among the evaluation metrics");
        if (maximize ? it->second > best_ : it->second < best_) {
          best_ = it->second;
          summary.best_metrics = metrics;
          summary.best_epoch = epoch;
          best_epoch_ = epoch;
          evals_since_best_ = 0;
        } else if (++evals_since_best_ >= early.get_int("patience")) {
          summary.stopped_early = true;
        }
      } else {
        summary.best_metrics = metrics;
        summary.best_epoch = epoch;
      }
    }
    const bool last = r.stop || summary.stopped_early || epoch + 1 == epochs || out_of_steps;
    const std::int64_t every = hooks_.checkpoint_every_epochs, every_steps = hooks_.checkpoint_every_steps;
    // The step loop leaves an epoch's last step to this save (after the evaluation).
    const bool step_due = complete && every_steps > 0 && summary.steps % every_steps == 0;
    if (hooks_.checkpoint && (last || step_due || (every > 0 && (epoch + 1) % every == 0))) {
      const checkpoint::Position next =
          complete ? position(epoch + 1, 0, summary.steps, {}) : position(epoch, r.next_step, summary.steps, r);
      hooks_.checkpoint(next, last_metrics_, last_metrics_step_, last);
    }
    if (r.stop && !(summary.stopped_early || epoch + 1 == epochs || out_of_steps)) {
      summary.stopped_by_signal = true;
      log::info("stopping at step {} (SIGUSR1)", summary.steps);
      break;
    }
    if (r.stop) log::info("SIGUSR1 at the run's last step {}: it ends as planned", summary.steps);
    if (last) break;
  }
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace recforge
