// Resume is bit-exact: a run that dies between checkpoints and resumes from the
// latest one ends with the same parameters, bit for bit, as a run that never
// stopped (mini-batch MF with momentum, crash points inside and across epochs;
// ALS by epochs). Negative controls: resuming without the optimizer state,
// without the data position, or from the previous version must differ
// (RELIABILITY.md F3), so the comparison can fail.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>

#include "recforge/checkpoint/checkpointer.hpp"
#include "recforge/core/fault.hpp"
#include "recforge/registry/plugin_registry.hpp"
#include "recforge/train/trainer.hpp"
#include "testing/error_testing.hpp"
#include "testing/temp_dir.hpp"
#include "testing/training_job.hpp"

namespace recforge::checkpoint {
namespace {

struct Crash {};

const char* kMf =
    "model: {type: mf, factors: 8, loss: bpr}\n"
    "train:\n  epochs: 3\n  batch_size: 64\n  optimizer: {lr: 2.0, momentum: 0.9, weight_decay: 0.001}\n"
    "checkpoint: {every_steps: 5, keep_last: 2, resume: auto}\n";
const char* kAls =
    "model: {type: als, factors: 8, alpha: 5, reg: 0.1}\ntrain: {epochs: 6}\ncheckpoint: {keep_last: 2, resume: auto}\n";

// What a run did: the checkpoints it saved (with their metrics), where it
// resumed, its evaluations and summary.
struct Observed {
  std::vector<Position> saved;
  std::vector<MetricValues> saved_metrics;
  std::int64_t resumed_at = -1;
  int evaluations = 0;
  TrainSummary summary;
};

// Trains `job` with checkpoints in `run_dir` (restoring as `recforge train`
// does); throws Crash instead of saving the checkpoint at `crash_at` (the
// steps since the previous one are lost). `evaluate`, when given, is the
// evaluation hook. Returns the parameters.
std::vector<std::vector<float>> run_observed(const std::string& job_text, const std::string& run_dir,
                                             std::int64_t crash_at, Observed& seen,
                                             std::function<MetricValues(std::int64_t)> evaluate = nullptr) {
  const ConfigNode job = testing::tiny_job(job_text);
  static const data::Dataset dataset = testing::tiny_dataset(job);
  auto comm = make_single_communicator();
  const Resources res = Resources::cpu();
  auto model = ModelRegistry::instance().get(job.section("model").get_string("type")).create(job.section("model"));
  model->build(ModelContext{&dataset, &res, comm.get(), 42});
  Trainer trainer(job.section("train"), *model, dataset, *comm, res, 42, nullptr);
  Checkpointer checkpointer(job.section("checkpoint"), run_dir, job.to_yaml(), *model, dataset, *comm, res, 42);
  if (const auto position = checkpointer.restore()) {
    trainer.set_start(*position, checkpointer.restored_metrics(), checkpointer.restored_metrics_step());
    seen.resumed_at = position->global_step;
  }
  TrainerHooks hooks;
  hooks.checkpoint = [&](const Position& next, const MetricValues& metrics, std::int64_t metrics_step, bool) {
    if (next.global_step == crash_at) throw Crash{};
    checkpointer.save(next, metrics, metrics_step);
    seen.saved.push_back(next);
    seen.saved_metrics.push_back(metrics);
  };
  hooks.checkpoint_every_epochs = checkpointer.every_epochs();
  hooks.checkpoint_every_steps = checkpointer.every_steps();
  if (evaluate) {
    hooks.evaluate = [&, evaluate](std::int64_t epoch) {
      ++seen.evaluations;
      return evaluate(epoch);
    };
  }
  trainer.set_hooks(std::move(hooks));
  seen.summary = trainer.fit();
  std::vector<std::vector<float>> params;
  for (Parameter* p : model->parameters()) params.push_back(p->value().to_vector<float>());
  return params;
}

std::vector<std::vector<float>> run(const std::string& job_text, const std::string& run_dir, std::int64_t crash_at = -1,
                                    std::vector<Position>* saved = nullptr, std::int64_t* resumed_at = nullptr) {
  Observed seen;
  auto params = run_observed(job_text, run_dir, crash_at, seen);
  if (saved) *saved = seen.saved;
  if (resumed_at) *resumed_at = seen.resumed_at;
  return params;
}

// Crashes at `crash_at`, then resumes in a fresh model and trainer; `resumed_at`
// receives the step the resume started from.
std::vector<std::vector<float>> crash_and_resume(const std::string& job, std::int64_t crash_at,
                                                 std::int64_t* resumed_at = nullptr) {
  testing::TempDir dir;
  EXPECT_THROW(run(job, dir.path().string(), crash_at), Crash);
  return run(job, dir.path().string(), -1, nullptr, resumed_at);
}

TEST(Resume, MiniBatchRunsEndBitIdenticalAfterACrash) {
  testing::TempDir reference_dir;
  std::vector<Position> saved;
  const auto reference = run(kMf, reference_dir.path().string(), -1, &saved);
  // Every checkpoint but the last is a crash point: inside epochs and at their ends.
  ASSERT_GE(saved.size(), 8u);
  int inside = 0;
  for (std::size_t k = 1; k + 1 < saved.size(); ++k) {
    inside += saved[k].step_in_epoch > 0;
    std::int64_t resumed_at = -1;
    EXPECT_EQ(crash_and_resume(kMf, saved[k].global_step, &resumed_at), reference)
        << "crash at step " << saved[k].global_step << " (epoch " << saved[k].epoch << ")";
    EXPECT_EQ(resumed_at, saved[k - 1].global_step) << "not resumed from the latest version";
  }
  EXPECT_GE(inside, 4);
}

TEST(Resume, EpochModelsEndBitIdenticalAfterACrash) {
  testing::TempDir reference_dir;
  const auto reference = run(kAls, reference_dir.path().string());
  for (std::int64_t crash_at : {2, 4, 6}) EXPECT_EQ(crash_and_resume(kAls, crash_at), reference) << crash_at;
}

TEST(Resume, NegativeControlsDiffer) {
  if (!fault::enabled_in_build()) GTEST_SKIP() << "restore variants exist in fault-injection builds only";
  testing::TempDir reference_dir;
  std::vector<Position> saved;
  const auto reference = run(kMf, reference_dir.path().string(), -1, &saved);
  // A crash point inside the second epoch, with a checkpoint before it.
  const auto it = std::find_if(saved.begin(), saved.end(), [](const Position& p) { return p.epoch == 1 && p.step_in_epoch > 5; });
  ASSERT_NE(it, saved.end());
  for (const char* skip : {"optimizer", "position"}) {
    ::setenv("RF_RESTORE_SKIP", skip, 1);
    const auto broken = crash_and_resume(kMf, it->global_step);
    ::unsetenv("RF_RESTORE_SKIP");
    EXPECT_NE(broken, reference) << "resuming without '" << skip << "' went unnoticed";
  }
  // Resuming from an older version replays more steps and, resume being exact,
  // ends in the same state: what catches it is the resume position.
  ::setenv("RF_RESTORE_SKIP", "latest", 1);
  std::int64_t resumed_at = -1;
  crash_and_resume(kMf, it->global_step, &resumed_at);
  ::unsetenv("RF_RESTORE_SKIP");
  EXPECT_LT(resumed_at, (it - 1)->global_step) << "the previous version was not the one restored";
}

// A validation metric that peaks at epoch 1 and then falls.
MetricValues peaks_at_epoch_1(std::int64_t epoch) {
  return {{"recall@20", epoch < 2 ? 0.1 * static_cast<double>(epoch + 1) : 0.05 / static_cast<double>(epoch)}};
}

const char* kEarlyStopped =
    "model: {type: mf, factors: 8, loss: bpr}\n"
    "train:\n  epochs: 20\n  batch_size: 64\n  optimizer: {lr: 2.0, momentum: 0.9}\n"
    "  early_stopping: {metric: recall@20, patience: 2}\n"
    "checkpoint: {every_steps: 5, keep_last: 2, resume: auto}\n";

// A run that early stopping ended, resumed (a restart after a later failure,
// or the same command again), has nothing left to train: no step, no
// evaluation, the same parameters. Before, it trained on until the next
// evaluation, and on while that improved.
TEST(Resume, ARunThatEarlyStoppingEndedStaysEnded) {
  testing::TempDir dir;
  Observed first;
  const auto ended = run_observed(kEarlyStopped, dir.path().string(), -1, first, peaks_at_epoch_1);
  ASSERT_TRUE(first.summary.stopped_early);
  EXPECT_EQ(first.evaluations, 4);  // epochs 0..3: best at 1, then two without improvement
  Observed again;
  EXPECT_EQ(run_observed(kEarlyStopped, dir.path().string(), -1, again, peaks_at_epoch_1), ended);
  EXPECT_EQ(again.resumed_at, first.saved.back().global_step);
  EXPECT_EQ(again.evaluations, 0);
  EXPECT_EQ(again.summary.epochs_run, 0);
  EXPECT_TRUE(again.saved.empty());
  // A larger patience continues it.
  std::string patient = kEarlyStopped;
  patient.replace(patient.find("patience: 2"), 11, "patience: 3");
  Observed more;
  run_observed(patient, dir.path().string(), -1, more, peaks_at_epoch_1);
  EXPECT_EQ(more.evaluations, 1);
}

// The versions a resumed run saves before it evaluates again carry the latest
// evaluation, as the uninterrupted run's do (retention's keep_best reads them).
TEST(Resume, VersionsSavedBeforeTheNextEvaluationKeepTheLatestMetrics) {
  testing::TempDir reference_dir;
  Observed reference;
  run_observed(kEarlyStopped, reference_dir.path().string(), -1, reference, peaks_at_epoch_1);
  // A crash point in epoch 2 with a version of epoch 2 before it.
  std::size_t k = 1;
  while (k < reference.saved.size() && !(reference.saved[k].epoch == 2 && reference.saved[k - 1].epoch == 2 &&
                                         reference.saved[k - 1].step_in_epoch > 0)) {
    ++k;
  }
  ASSERT_LT(k, reference.saved.size());
  ASSERT_FALSE(reference.saved_metrics[k].empty());
  testing::TempDir dir;
  Observed crashed, resumed;
  EXPECT_THROW(run_observed(kEarlyStopped, dir.path().string(), reference.saved[k].global_step, crashed,
                            peaks_at_epoch_1),
               Crash);
  run_observed(kEarlyStopped, dir.path().string(), -1, resumed, peaks_at_epoch_1);
  ASSERT_FALSE(resumed.saved.empty());
  EXPECT_EQ(resumed.saved.front().global_step, reference.saved[k].global_step);
  std::vector<std::pair<std::string, double>> got = resumed.saved_metrics.front(), want = reference.saved_metrics[k];
  std::sort(got.begin(), got.end());  // (restored in the file's order)
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
}

// every_steps keeps its cadence whatever every_epochs says: an epoch's last
// step was left to the epoch-end save, which only every_epochs 1 makes.
TEST(Resume, StepCheckpointsFallOnEpochEndsToo) {
  // The tiny preset: 5,800 training rows in batches of 64, 91 steps an epoch.
  const std::string job = "model: {type: mf, factors: 4}\ntrain: {epochs: 3, batch_size: 64}\n";
  for (const char* every_epochs : {"0", "2"}) {
    testing::TempDir dir;
    std::vector<Position> saved;
    run(job + "checkpoint: {every_epochs: " + every_epochs + ", every_steps: 91, keep_last: 5}\n",
        dir.path().string(), -1, &saved);
    std::vector<std::int64_t> steps;
    for (const Position& p : saved) steps.push_back(p.global_step);
    EXPECT_EQ(steps, (std::vector<std::int64_t>{91, 182, 273})) << "every_epochs " << every_epochs;
  }
}

// Temporaries are cleaned by the directory's writer only: a job with
// checkpoints off takes no lock on them and may be reading a live run's.
TEST(Resume, AJobThatDoesNotWriteLeavesTemporariesAlone) {
  const std::string job = "model: {type: mf, factors: 4}\ntrain: {epochs: 1, batch_size: 512}\n";
  for (const bool enabled : {false, true}) {
    testing::TempDir dir;
    const std::string in_progress = dir.file("checkpoints/.tmp-step-0000000010-1");
    std::filesystem::create_directories(in_progress);
    run(job + "checkpoint: {enabled: " + (enabled ? "true" : "false") + "}\n", dir.path().string());
    EXPECT_EQ(std::filesystem::exists(in_progress), !enabled) << "enabled " << enabled;
  }
}

// keep_best counts a version's metrics only when they are its own: step
// versions saved after an evaluation carry that earlier state's metrics, and
// the best of them was kept (and served, exported) as the evaluated model.
TEST(Resume, KeepBestKeepsOnlyAnEvaluatedState) {
  // 91 steps an epoch, evaluated at steps 91, 182 and 273 (best at the first);
  // versions at 50, 100, 150, 200, 250 and 273: only 273 was evaluated as saved.
  const std::string job = "model: {type: mf, factors: 4}\ntrain: {epochs: 3, batch_size: 64}\n"
                          "checkpoint: {every_epochs: 0, every_steps: 50, keep_last: 1, keep_best: recall@10}\n";
  testing::TempDir dir;
  Observed seen;
  run_observed(job, dir.path().string(), -1, seen,
               [](std::int64_t epoch) { return MetricValues{{"recall@10", 0.5 - 0.1 * static_cast<double>(epoch)}}; });
  std::vector<std::int64_t> kept;
  for (const Version& v : CheckpointRepository((dir.path() / "checkpoints").string()).list()) kept.push_back(v.step);
  EXPECT_EQ(kept, (std::vector<std::int64_t>{273}));
  const Manifest last = CheckpointRepository((dir.path() / "checkpoints").string()).load_latest()->manifest;
  EXPECT_EQ(last.metrics_step, 273);
}

// keep_best on an error metric keeps its smallest value (no keep_best_mode:
// the metric's own direction); with the old max default it kept the worst.
TEST(Resume, KeepBestOnAnErrorMetricKeepsTheSmallest) {
  const std::string job = "model: {type: mf, factors: 4}\ntrain: {epochs: 3, batch_size: 64}\n"
                          "checkpoint: {every_epochs: 1, keep_last: 1, keep_best: rmse}\n";
  testing::TempDir dir;
  Observed seen;
  run_observed(job, dir.path().string(), -1, seen,
               [](std::int64_t epoch) { return MetricValues{{"rmse", 0.3 + 0.1 * static_cast<double>(epoch)}}; });
  std::vector<std::int64_t> kept;
  for (const Version& v : CheckpointRepository((dir.path() / "checkpoints").string()).list()) kept.push_back(v.step);
  EXPECT_EQ(kept, (std::vector<std::int64_t>{91, 273}));
  testing::TempDir other;
  std::string max_mode = job;
  max_mode.replace(max_mode.find("keep_best: rmse}"), 16, "keep_best: rmse, keep_best_mode: max}");
  RF_EXPECT_ERROR(run(max_mode, other.path().string()), ErrorKind::kConfig,
                  "checkpoint.keep_best_mode max with rmse, an error that is better smaller");
}

TEST(Resume, FreshStartIntoAUsedDirectoryIsRefused) {
  testing::TempDir dir;
  run(kAls, dir.path().string());
  std::string never = kAls;
  never.replace(never.find("resume: auto"), 12, "resume: never");
  try {
    run(never, dir.path().string());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("already holds checkpoints (up to step-0000000006) from an earlier run"),
              std::string::npos)
        << e.what();
  }
  std::string required = kAls;
  required.replace(required.find("resume: auto"), 12, "resume: required");
  testing::TempDir empty;
  try {
    run(required, empty.path().string());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("checkpoint.resume is required but"), std::string::npos) << e.what();
  }
}

// A NaN no step has used yet (a corrupted row) never reaches a checkpoint: the
// save refuses and nothing is committed or left behind (RELIABILITY.md N1).
TEST(NonFinite, ADormantNanIsNeverCheckpointed) {
  testing::TempDir dir;
  const ConfigNode job = testing::tiny_job(kMf);
  static const data::Dataset dataset = testing::tiny_dataset(job);
  auto comm = make_single_communicator();
  const Resources res = Resources::cpu();
  auto model = ModelRegistry::instance().get("mf").create(job.section("model"));
  model->build(ModelContext{&dataset, &res, comm.get(), 42});
  Parameter& table = *model->parameters().back();
  table.value().data_as<float>()[table.value().numel() - 1] = std::nanf("");
  Checkpointer checkpointer(job.section("checkpoint"), dir.path().string(), job.to_yaml(), *model, dataset, *comm, res,
                            42);
  Position position;
  position.global_step = 5;
  RF_EXPECT_ERROR(checkpointer.save(position, {}), ErrorKind::kNumerical,
                  "parameter '" + table.name() + "' holds 1 non-finite values; no checkpoint is written from this state");
  EXPECT_FALSE(CheckpointRepository((dir.path() / "checkpoints").string()).load_latest().has_value());
  std::vector<std::string> left;
  if (std::filesystem::exists(dir.path() / "checkpoints")) {
    for (const auto& entry : std::filesystem::directory_iterator(dir.path() / "checkpoints"))
      left.push_back(entry.path().filename().string());
  }
  EXPECT_TRUE(left.empty()) << left.front();

  // Training finds it at the first fingerprint check (or the first step that reads it).
  std::string every_step = kMf;
  every_step.replace(every_step.find("epochs: 3"), 9, "epochs: 3\n  fingerprint_every: 1");
  const ConfigNode checked = testing::tiny_job(every_step);
  Trainer trainer(checked.section("train"), *model, dataset, *comm, res, 42, nullptr);
  RF_EXPECT_ERROR(trainer.fit(), ErrorKind::kNumerical, "step 0: 1 non-finite parameter values (this rank: 1)");
}

// A checkpoint of other data (another file, other options, a newer synthetic
// generator) is refused, saying how to start afresh.
TEST(Resume, OtherDataIsRefusedSayingHowToStartAfresh) {
  testing::TempDir dir;
  run(kAls, dir.path().string());
  const ConfigNode job = testing::tiny_job(kAls);
  data::Dataset other = testing::tiny_dataset(job);
  other.fingerprint = std::string(64, '0');
  auto comm = make_single_communicator();
  const Resources res = Resources::cpu();
  auto model = ModelRegistry::instance().get("als").create(job.section("model"));
  model->build(ModelContext{&other, &res, comm.get(), 42});
  Checkpointer checkpointer(job.section("checkpoint"), dir.path().string(), job.to_yaml(), *model, other, *comm, res, 42);
  RF_EXPECT_ERROR(checkpointer.restore(), ErrorKind::kConfig,
                  "checkpoint.h5: trained on different data (fingerprint " +
                      testing::tiny_dataset(job).fingerprint.substr(0, 12) +
                      ", now 000000000000; the data, its options or the synthetic generator changed). To train "
                      "afresh, give the job another run.name (--set run.name=...) or move " +
                      (dir.path() / "checkpoints").string() + " away");
  // Named by checkpoint.dir (as --resume does): another run.name would not help.
  const ConfigNode named = testing::tiny_job("model: {type: als, factors: 8, alpha: 5, reg: 0.1}\ncheckpoint: {dir: " +
                                             (dir.path() / "checkpoints").string() + "}\n");
  Checkpointer resuming(named.section("checkpoint"), dir.file("elsewhere"), job.to_yaml(), *model, other, *comm, res,
                        42);
  RF_EXPECT_ERROR(resuming.restore(), ErrorKind::kConfig,
                  "synthetic generator changed). Resume from checkpoints of this data (checkpoint.dir, --resume), or "
                  "train afresh without them");
}

// A checkpoint of another revision of the model (SASRec 0 attended to the
// padding) is refused by resume; the same revision resumes.
TEST(Resume, AnotherRevisionOfTheModelIsRefused) {
  auto model = ModelRegistry::instance().get("sasrec").create(testing::tiny_job("model: {type: sasrec}").section("model"));
  ASSERT_EQ(model->revision(), 1);
  Meta meta;
  meta.model_type = "sasrec";
  meta.model_revision = 0;
  RF_EXPECT_ERROR(require_model_revision(meta, *model, "runs/x/checkpoint.h5"), ErrorKind::kConfig,
                  "runs/x/checkpoint.h5: a 'sasrec' checkpoint of model revision 0; this recforge's 'sasrec' is "
                  "revision 1, whose parameters compute another function");
  meta.model_revision = 1;
  require_model_revision(meta, *model, "runs/x/checkpoint.h5");
}

TEST(Resume, ADifferentModelIsRefused) {
  testing::TempDir dir;
  run(kAls, dir.path().string());
  std::string other = kAls;
  other.replace(other.find("factors: 8"), 10, "factors: 4");
  try {
    run(other, dir.path().string());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the model section differs from the checkpoint's"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("factors: 8"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace recforge::checkpoint

namespace recforge::checkpoint {
namespace {

// Every registered model: what a checkpoint holds equals the model in memory,
// bit for bit (parameters, optimizer slots, serving tables).
TEST(RoundTrip, EveryRegisteredModel) {
  const std::vector<std::string> types = ModelRegistry::instance().names();
  ASSERT_GE(types.size(), 3u);
  for (const std::string& type : types) {
    SCOPED_TRACE(type);
    testing::TempDir dir;
    const std::string extra = type == "mf" ? "train: {epochs: 2, batch_size: 64, optimizer: {momentum: 0.9}}\n"
                                           : "train: {epochs: 2}\n";
    const ConfigNode job = testing::tiny_job("model: {type: " + type + "}\n" + extra);
    static const data::Dataset dataset = testing::tiny_dataset(job);
    auto comm = make_single_communicator();
    const Resources res = Resources::cpu();
    auto model = ModelRegistry::instance().get(type).create(job.section("model"));
    model->build(ModelContext{&dataset, &res, comm.get(), 42});
    Trainer trainer(job.section("train"), *model, dataset, *comm, res, 42, nullptr);
    Checkpointer checkpointer(job.section("checkpoint"), dir.path().string(), job.to_yaml(), *model, dataset, *comm,
                              res, 42);
    TrainerHooks hooks;
    hooks.checkpoint = [&](const Position& next, const MetricValues& metrics, std::int64_t metrics_step, bool) {
      checkpointer.save(next, metrics, metrics_step);
    };
    trainer.set_hooks(std::move(hooks));
    trainer.fit();

    const auto loaded = CheckpointRepository((dir.path() / "checkpoints").string()).load_latest();
    ASSERT_TRUE(loaded.has_value());
    const CheckpointReader reader(loaded->checkpoint_bytes, type);
    EXPECT_EQ(reader.meta().model_type, type);
    std::vector<std::string> names;
    for (Parameter* p : model->parameters()) {
      names.push_back(p->name());
      const ParameterState state = reader.parameter(p->name(), p->value().shape());
      EXPECT_EQ(state.value.to_vector<float>(), p->value().to_vector<float>()) << p->name();
      ASSERT_EQ(state.optimizer.size(), p->states().size()) << p->name();
      for (const NamedTensor& slot : state.optimizer) {
        EXPECT_EQ(slot.value.to_vector<float>(), p->states().at(slot.name).to_vector<float>()) << slot.name;
      }
    }
    std::sort(names.begin(), names.end());
    EXPECT_EQ(reader.parameter_names(), names);
    const Serving s = reader.serving();
    EXPECT_EQ(s.seen_offsets.back(), dataset.train.size());
    EXPECT_EQ(static_cast<std::int64_t>(s.item_popularity.size()), dataset.num_items());
    Tensor users, items;
    if (model->embeddings(users, items)) {
      EXPECT_EQ(s.user_embeddings.to_vector<float>(), users.to_vector<float>());
      EXPECT_EQ(s.item_embeddings.to_vector<float>(), items.to_vector<float>());
    } else {
      EXPECT_FALSE(s.item_embeddings.defined());
    }
  }
}

}  // namespace
}  // namespace recforge::checkpoint
