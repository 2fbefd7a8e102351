// run_training: the orchestration behind `recforge train` (see run.hpp).
#include "recforge/train/run.hpp"

#include <omp.h>

#include <algorithm>
#include <array>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "recforge/checkpoint/checkpointer.hpp"
#include "recforge/config/schema.hpp"
#include "recforge/comm/signals.hpp"
#include "recforge/core/cuda_runtime.hpp"
#include "recforge/eval/evaluator.hpp"
#include "recforge/core/fault.hpp"
#include "recforge/io/directory_lock.hpp"
#include "recforge/io/durable_file.hpp"
#include "recforge/io/paths.hpp"
#include "recforge/log/logging.hpp"
#include "recforge/registry/plugin_registry.hpp"
#include "recforge/train/job_session.hpp"
#include "recforge/train/preflight.hpp"

namespace recforge {

Schema comm_schema() {
  Schema s("how ranks talk to each other");
  s.add_string("backend", "auto", "auto (nccl on GPUs, mpi under mpirun, else single), single, mpi, nccl",
               {"auto", "single", "mpi", "nccl"})
      .add_float("watchdog_timeout", 300.0, "seconds a collective may take before the job is aborted", 1.0)
      .add_float("io_timeout", 1800.0,
                 "seconds a rank may wait in a collective for another rank's file I/O (rank 0 writing or loading a "
                 "checkpoint, preparing the data) before the job is aborted (the longer of this and "
                 "watchdog_timeout)",
                 1.0)
      .add_bool("desync_check", true, "verify that every rank issues the same collective with the same size")
      .add_bool("heartbeats", true, "write per-rank heartbeats to the run directory (names stuck ranks)")
      .add_bool("preflight", true, "check devices, a known all-reduce and the data files before training");
  return s;
}

Device choose_device(const std::string& setting, int local_rank) {
  const int gpus = cuda::device_count();
  if (setting == "cpu" || (setting == "auto" && gpus == 0)) return Device::cpu();
  RF_CHECK_KIND(ErrorKind::kConfig, gpus > 0, "run.device cuda, but no CUDA device is visible (",
                cuda::compiled_with_cuda() ? "no GPU or driver" : "built without CUDA", ")");
  return Device::cuda(local_rank % gpus);
}

std::string run_directory(const ConfigNode& run) {
  const std::string name = run.get_string("name");
  // One path component: a name with a slash, "..", "/" or "" would put the
  // run (and its checkpoints) outside output_dir or straight into it.
  const bool one_component = !name.empty() && name != "." && name != ".." &&
                             name.find_first_of(std::string("/\0", 2)) == std::string::npos;
  RF_CHECK_KIND(ErrorKind::kConfig, one_component, run["name"].where(), ": run.name '", name,
                "' must be one directory name (no '/', not '.' or '..'); runs go to <run.output_dir>/<run.name>/");
  const std::string output_dir = run.get_string("output_dir");
  RF_CHECK_KIND(ErrorKind::kConfig, io::absent_or_directory(output_dir), run["output_dir"].where(), ": run.output_dir '", output_dir, "' exists and is not a directory");
  return (std::filesystem::path(output_dir) / name).string();
}

namespace {

// The config keys that name an evaluation metric to watch.
std::array<const ConfigNode*, 2> watched_metric_keys(const ConfigNode& job) {
  return {&job.section("train").section("early_stopping")["metric"], &job.section("checkpoint")["keep_best"]};
}

// The keys that watch an evaluation metric name one the evaluator can report:
// checked now, not when the first evaluation (an epoch in) shows the typo.
void check_watched_metrics(const ConfigNode& job, const Evaluator& evaluator, const data::Dataset& dataset) {
  const std::vector<std::string> possible = evaluator.possible_metrics(dataset);
  if (possible.empty()) return;  // not known before it runs
  for (const ConfigNode* node : watched_metric_keys(job)) {
    if (node->is_null()) continue;
    const std::string name = node->as_string();
    if (std::find(possible.begin(), possible.end(), name) != possible.end()) continue;
    std::vector<std::string> overall;  // the per-group names repeat these with a [group] suffix
    std::copy_if(possible.begin(), possible.end(), std::back_inserter(overall),
                 [](const std::string& n) { return n.find('[') == std::string::npos; });
    const auto hint = closest_match(name, possible);
    // Every rank has the same config and data (both checked): all throw alike.
    RF_THROW_AGREED(ErrorKind::kConfig, node->where(), ": ", node->path(), " '", name, "' is not a metric the ",
                    evaluator.type(), " evaluation reports", hint ? "; did you mean '" + *hint + "'?" : std::string(),
                    " (reports: ", fmt::format("{}", fmt::join(overall, ", ")),
                    overall.size() < possible.size() ? ", and per user group e.g. " + possible.back() : std::string(),
                    ")");
  }
}

// The directories a training job writes: its run directory, and the one its
// checkpoints go to when that lies elsewhere (--resume of another run, or
// checkpoint.dir). A checkpoints/ folder is locked through its run directory,
// so a job resuming a run that still trains is refused like a second job of
// that run. A checkpoint directory of another name takes its own lock file:
// a .lock there would make checkpoint_dir_of take it for a run directory.
// Absolute, normalised and without repeats: two locks of one file in this
// process would refuse each other.
struct LockTarget {
  std::string dir, file_name;  // file_name .lock: a run directory (this job's or another run's)
};

std::vector<LockTarget> directories_to_lock(const ConfigNode& job, const std::string& run_dir) {
  namespace fs = std::filesystem;
  std::vector<LockTarget> targets{{fs::weakly_canonical(fs::absolute(run_dir)).string(), ".lock"}};
  const ConfigNode& checkpoint = job.section("checkpoint");
  const std::string configured = checkpoint.get_string("dir");
  // (A path that is a file is the Checkpointer's to refuse, with its key.)
  if (!checkpoint.get_bool("enabled") || configured.empty() || !io::absent_or_directory(configured)) return targets;
  fs::path dir = fs::weakly_canonical(fs::absolute(configured)).lexically_normal();
  if (!dir.has_filename()) dir = dir.parent_path();  // "runs/a/checkpoints/"
  const bool of_a_run = dir.filename() == "checkpoints";
  if (of_a_run) dir = dir.parent_path();
  if (dir.string() != targets[0].dir) targets.push_back({dir.string(), of_a_run ? ".lock" : ".checkpoints.lock"});
  return targets;
}

// Rank 0 locks them; every rank learns the outcome, and a refusal is agreed.
std::vector<io::DirectoryLock> lock_job_directories(const ConfigNode& job, const std::string& run_dir,
                                                    Communicator& comm) {
  std::vector<io::DirectoryLock> locks;
  const std::vector<LockTarget> targets = directories_to_lock(job, run_dir);
  for (const LockTarget& target : targets) {
    std::string holder;
    if (comm.rank() == 0) {
      std::filesystem::create_directories(target.dir);
      if (auto lock = io::DirectoryLock::try_acquire(target.dir, holder, target.file_name)) {
        locks.push_back(std::move(*lock));
      }
    }
    holder = comm.allgather_string(holder)[0];
    // A config problem (exit 2; restart.sh does not retry it): two jobs were given one directory.
    const bool own = &target == &targets[0];
    RF_CHECK_AGREED(ErrorKind::kConfig, holder.empty(),
                    own                             ? "the run directory "
                    : target.file_name == ".lock" ? "the run directory of this job's checkpoints "
                                                  : "this job's checkpoint directory ",
                    own ? run_dir : target.dir, " is in use by another job (", holder,
                    "); give this job its own run.name (--set run.name=...) or checkpoint.dir, or wait for that "
                    "one to end");
  }
  return locks;
}

}  // namespace

TrainRunResult run_training(const ConfigNode& job, DistributedRuntime& runtime) {
  const ConfigNode& run = job.section("run");
  RF_CHECK_KIND(ErrorKind::kConfig, !job["model"].is_null(), "the config has no model section; add `model:` with a `type:`");
  // Keys that watch an evaluation metric do nothing without an evaluation.
  for (const ConfigNode* node : watched_metric_keys(job)) {
    RF_CHECK_KIND(ErrorKind::kConfig, node->is_null() || !job["eval"].is_null(), node->where(), ": ", node->path(),
                  " watches an evaluation metric, but the config has no eval section");
  }
  const std::string run_dir = run_directory(run);
  JobSession session(job, runtime, run_dir + "/heartbeats");
  Communicator* comm = &session.comm();
  const Device device = session.device();
  const Resources& resources = session.resources();
  std::filesystem::create_directories(run_dir);
  install_stop_signal_handler();

  // Every rank must run the same config (decided before any training collective).
  const std::string config_text = job.to_yaml();
  session.check_same_config(config_text);
  // One job per run directory: rank 0 holds its lock until the job ends.
  const std::vector<io::DirectoryLock> locks = lock_job_directories(job, run_dir, *comm);
  log::info("run {} on {} rank(s), {} backend, device {}, {} CPU thread(s) per rank", run_dir, comm->world_size(),
            comm->backend(), device.str(), omp_get_max_threads());
  if (job.section("comm").get_bool("preflight")) {
    const auto checks = run_preflight(job, *comm, device, resources, /*measure_bandwidth=*/false);
    require_preflight_passed(checks, /*table_printed=*/false);
    log::debug("preflight:\n{}", format_preflight(checks));
  }

  const auto seed = static_cast<std::uint64_t>(run.get_int("seed"));
  data::Dataset dataset = session.prepare_dataset(job.section("data"), seed);

  // The evaluator's config errors that need the data come before the model
  // is built or a checkpoint restored.
  std::unique_ptr<Evaluator> evaluator;
  if (!job["eval"].is_null()) {
    const ConfigNode& eval_config = job.section("eval");
    evaluator = EvaluatorRegistry::instance().get(eval_config.get_string("type")).create(eval_config);
    evaluator->check_data(dataset);
    check_watched_metrics(job, *evaluator, dataset);
  }

  const ConfigNode& model_config = job.section("model");
  auto model = ModelRegistry::instance().get(model_config.get_string("type")).create(model_config);
  model->build(ModelContext{&dataset, &resources, comm, seed});
  if (evaluator) evaluator->check_model(*model);
  check_training_config(job.section("train"), *model);

  checkpoint::Checkpointer checkpointer(job.section("checkpoint"), run_dir, config_text, *model, dataset, *comm,
                                        resources, seed);
  const auto resumed_at = checkpointer.restore();

  // The run's files once its data, model, checkpoints and evaluator stand: a
  // job that fails on its input leaves no run for `recforge report` to show.
  std::unique_ptr<MetricsLog> metrics;
  if (comm->rank() == 0) {
    std::ofstream(run_dir + "/config.yaml") << config_text;
    // The log goes on from the restored step (a fresh start: from nothing);
    // an earlier attempt's test results are stale until this one's come.
    metrics = std::make_unique<MetricsLog>(run_dir + "/metrics.jsonl", resumed_at ? resumed_at->global_step : 0);
    std::error_code ignored;
    std::filesystem::remove(run_dir + "/eval.json", ignored);
  }
  Trainer trainer(job.section("train"), *model, dataset, *comm, resources, seed, metrics.get());
  if (resumed_at) {
    trainer.set_start(*resumed_at, checkpointer.restored_metrics(), checkpointer.restored_metrics_step());
  }
  const EvalContext eval_context{&dataset, &resources, comm, seed};
  // Validation data for epochs; the test split only when there is no validation split.
  const bool has_valid = !dataset.valid.empty();
  TrainerHooks hooks;
  if (checkpointer.enabled()) {
    hooks.checkpoint = [&](const checkpoint::Position& next, const MetricValues& values, std::int64_t metrics_step,
                           bool) { checkpointer.save(next, values, metrics_step); };
    hooks.checkpoint_every_epochs = checkpointer.every_epochs();
    hooks.checkpoint_every_steps = checkpointer.every_steps();
  }
  if (evaluator) {
    if (!has_valid && !job.section("train").section("early_stopping")["metric"].is_null()) {
      log::warn("early stopping watches the test split (the data has no validation split); set "
                "data.split.valid_ratio or validation_item for an unbiased choice");
    }
    hooks.eval_split = has_valid ? "valid" : "test";
    hooks.evaluate = [&](std::int64_t epoch) {
      MetricValues values = evaluator->evaluate(*model, has_valid ? dataset.valid : dataset.test, eval_context);
      log::info("epoch {} {}: {}", epoch, has_valid ? "valid" : "test",
                fmt::format("recall/ndcg {:.4f}/{:.4f}", values.size() > 1 ? values[0].second : 0.0,
                            values.size() > 1 ? values[1].second : 0.0));
      return values;
    };
  }
  trainer.set_hooks(std::move(hooks));
  TrainRunResult result;
  result.summary = trainer.fit();
  result.run_dir = run_dir;
  if (result.summary.stopped_by_signal && !checkpointer.enabled()) {
    log::warn("stopped by SIGUSR1 with checkpoint.enabled false: nothing was saved, and the final evaluation is "
              "skipped; a new run starts from the beginning");
  } else if (result.summary.stopped_by_signal) {
    log::info("stopped by SIGUSR1: the final evaluation is skipped; continue with --resume {}", checkpointer.dir());
  } else if (evaluator && !dataset.test.empty()) {
    const MetricValues test = evaluator->evaluate(*model, dataset.test, eval_context);
    result.test_metrics = test;
    if (comm->rank() == 0) {
      metrics->write(result.summary.steps, result.summary.epochs, "test", test);
      // Atomically: a full disk is an error, not a cut file.
      io::write_file_atomically(run_dir + "/eval.json", metric_values_json(test));
      std::printf("test metrics (%s, %lld users):\n%s", dataset.name.c_str(),
                  static_cast<long long>(dataset.test.size()), evaluator->format(test).c_str());
      std::fflush(stdout);
    }
  }
  if (result.summary.epochs_run == 0 && !result.summary.stopped_by_signal) {
    log::info("done: the resumed run had already ended ({} epochs, {} steps); nothing left to train",
              result.summary.epochs, result.summary.steps);
  } else {
    log::info("done: {} epochs, {} steps, final loss {:.6g}, {:.1f} s{}", result.summary.epochs, result.summary.steps,
              result.summary.last_epoch_loss, result.summary.seconds,
              result.summary.stopped_by_signal ? " (stopped by SIGUSR1)" : "");
  }
  // A last, watched collective: a rank stuck after the others are done (rank 0
  // writing eval.json to a stalled disk) ends the job here. MPI_Finalize,
  // after the session and its watchdog are gone, would wait for it for ever.
  fault::at_phase(comm->rank(), "job_end");
  comm->barrier();
  return result;
}

}  // namespace recforge
