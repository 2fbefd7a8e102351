// Trainer on one process: learning-rate schedules, loss going down, early
// stopping, max_steps, and the sparse gradient path's coalescing.
#include <gtest/gtest.h>

#include <cmath>

#include "recforge/comm/signals.hpp"
#include "recforge/train/gradient_sync.hpp"
#include "recforge/train/lr_schedule.hpp"
#include "recforge/train/trainer.hpp"
#include "recforge/registry/plugin_registry.hpp"
#include "testing/error_testing.hpp"
#include "testing/training_job.hpp"

namespace recforge {
namespace {

ConfigNode schedule(const std::string& yaml) { return lr_schedule_schema().resolve(load_config_string(yaml, "s.yaml")); }

TEST(LrSchedule, ConstantStepAndWarmupCosine) {
  EXPECT_DOUBLE_EQ(LrSchedule(schedule(""), 0.1, 10, 100).at(57), 0.1);
  const LrSchedule step(schedule("type: step\nstep_epochs: 2\ngamma: 0.5"), 1.0, 10, 100);
  EXPECT_DOUBLE_EQ(step.at(19), 1.0);
  EXPECT_DOUBLE_EQ(step.at(20), 0.5);
  EXPECT_DOUBLE_EQ(step.at(45), 0.25);
  const LrSchedule cosine(schedule("type: warmup_cosine\nwarmup_steps: 10\nmin_lr_ratio: 0.1"), 1.0, 10, 110);
  EXPECT_DOUBLE_EQ(cosine.at(0), 0.1);
  EXPECT_DOUBLE_EQ(cosine.at(9), 1.0);
  EXPECT_DOUBLE_EQ(cosine.at(10), 1.0);
  EXPECT_NEAR(cosine.at(60), 0.55, 1e-12);  // half way: 0.1 + 0.9 * 0.5
  EXPECT_NEAR(cosine.at(110), 0.1, 1e-12);
}

TEST(GradientSync, SingleRankCoalescesRows) {
  auto comm = make_single_communicator();
  const Resources res = Resources::cpu();
  Parameter table("t", Tensor::zeros({5, 2}, DType::kF32), Parameter::Kind::kEmbedding);
  table.rows() = SparseRows{Tensor::from_vector(std::vector<std::int32_t>{3, 1, 3}),
                            Tensor::from_vector(std::vector<float>{1, 1, 2, 2, 3, 3}, {3, 2})};
  GradientSync(*comm, res, {}).synchronize({&table});
  EXPECT_EQ(table.rows().ids.to_vector<std::int32_t>(), (std::vector<std::int32_t>{1, 3}));
  EXPECT_EQ(table.rows().values.to_vector<float>(), (std::vector<float>{2, 2, 4, 4}));
}

struct Trained {
  TrainSummary summary;
  std::unique_ptr<Model> model;
};

Trained train(const std::string& model_and_train, TrainerHooks hooks = {}) {
  const ConfigNode job = testing::tiny_job(model_and_train);
  static data::Dataset dataset = testing::tiny_dataset(job);
  auto comm = make_single_communicator();
  const Resources res = Resources::cpu();
  Trained out;
  out.model = ModelRegistry::instance().get(job.section("model").get_string("type")).create(job.section("model"));
  out.model->build(ModelContext{&dataset, &res, comm.get(), 42});
  Trainer trainer(job.section("train"), *out.model, dataset, *comm, res, 42, nullptr);
  trainer.set_hooks(std::move(hooks));
  out.summary = trainer.fit();
  return out;
}

TEST(Trainer, MseLossGoesDownEpochByEpoch) {
  std::vector<double> losses;
  TrainerHooks hooks;
  const std::string job = "model: {type: mf, loss: mse, factors: 8}\ntrain:\n  epochs: 4\n  batch_size: 128\n"
                          "  optimizer: {lr: 1.0, momentum: 0.5}\n";
  for (int epochs : {1, 2, 3, 4}) {
    std::string text = job;
    text.replace(text.find("epochs: 4"), 9, "epochs: " + std::to_string(epochs));
    losses.push_back(train(text).summary.last_epoch_loss);
  }
  for (std::size_t k = 1; k < losses.size(); ++k) EXPECT_LT(losses[k], losses[k - 1]) << "epoch " << k;
}

TEST(Trainer, BprLossGoesDown) {
  const double first = train("model: {type: mf, loss: bpr, factors: 8}\ntrain: {epochs: 1, batch_size: 64, optimizer: {lr: 5.0}}\n").summary.last_epoch_loss;
  const double later = train("model: {type: mf, loss: bpr, factors: 8}\ntrain: {epochs: 6, batch_size: 64, optimizer: {lr: 5.0}}\n").summary.last_epoch_loss;
  EXPECT_LT(later, first);
}

TEST(Trainer, MaxStepsStopsEarly) {
  const Trained t = train("model: {type: mf, factors: 4}\ntrain: {epochs: 50, batch_size: 100, max_steps: 7}\n");
  EXPECT_EQ(t.summary.steps, 7);
  EXPECT_EQ(t.summary.epochs, 0);  // completed epochs: the first stopped after 7 of its 10 steps
}

// The parameters' change after one plain SGD step (lr 1): minus the gradient.
std::vector<float> first_step_change(const std::string& clip) {
  const std::string job = "model: {type: mf, loss: mse, factors: 4}\ntrain: {epochs: 1, batch_size: 100, max_steps: 1, " +
                          clip + "optimizer: {type: sgd, lr: 1.0}}\n";
  const ConfigNode parsed = testing::tiny_job(job);
  static data::Dataset dataset = testing::tiny_dataset(parsed);
  auto comm = make_single_communicator();
  const Resources res = Resources::cpu();
  auto untrained = ModelRegistry::instance().get("mf").create(parsed.section("model"));
  untrained->build(ModelContext{&dataset, &res, comm.get(), 42});
  const Trained after = train(job);
  std::vector<float> change;
  const std::vector<Parameter*> start = untrained->parameters(), end = after.model->parameters();
  for (std::size_t p = 0; p < start.size(); ++p) {
    const std::vector<float> a = start[p]->value().to_vector<float>(), b = end[p]->value().to_vector<float>();
    for (std::size_t i = 0; i < a.size(); ++i) change.push_back(b[i] - a[i]);
  }
  return change;
}

double norm_of(const std::vector<float>& v) {
  double s = 0;
  for (const float x : v) s += static_cast<double>(x) * x;
  return std::sqrt(s);
}

// train.grad_clip scales the whole gradient (every parameter, dense and
// embedding rows) to the given global norm when it is larger, and leaves it
// alone when it is not.
TEST(Trainer, GradClipScalesTheGlobalNorm) {
  const std::vector<float> free = first_step_change("");
  const double norm = norm_of(free);
  ASSERT_GT(norm, 0.0);
  const double clip = 0.25 * norm;
  const std::vector<float> clipped = first_step_change("grad_clip: " + std::to_string(clip) + ", ");
  ASSERT_EQ(clipped.size(), free.size());
  EXPECT_NEAR(norm_of(clipped), clip, 1e-4 * clip);
  for (std::size_t i = 0; i < free.size(); ++i) ASSERT_NEAR(clipped[i], 0.25f * free[i], 1e-6 + 1e-4 * std::fabs(free[i]));
  const std::vector<float> loose = first_step_change("grad_clip: " + std::to_string(4 * norm) + ", ");
  EXPECT_EQ(loose, free);
}

TEST(Trainer, EarlyStoppingWaitsForPatience) {
  int calls = 0;
  TrainerHooks hooks;
  hooks.evaluate = [&](std::int64_t epoch) -> MetricValues {
    ++calls;
    return {{"recall@20", epoch < 2 ? 0.1 * static_cast<double>(epoch + 1) : 0.05}};  // best at epoch 1
  };
  const Trained t = train("model: {type: mf, factors: 4}\ntrain:\n  epochs: 20\n  batch_size: 1000\n"
                          "  early_stopping: {metric: recall@20, patience: 3}\n",
                          std::move(hooks));
  EXPECT_TRUE(t.summary.stopped_early);
  EXPECT_EQ(t.summary.best_epoch, 1);
  EXPECT_EQ(calls, 5);  // epochs 0..4: best at 1, then three without improvement
  EXPECT_DOUBLE_EQ(t.summary.best_metrics[0].second, 0.2);
}

// An error metric improves downwards: without a mode, early stopping on rmse
// keeps the smallest value; mode max with it is refused, naming the key.
TEST(Trainer, EarlyStoppingOnAnErrorMetricKeepsTheSmallest) {
  int calls = 0;
  TrainerHooks hooks;
  hooks.evaluate = [&](std::int64_t epoch) -> MetricValues {
    ++calls;
    return {{"rmse", epoch < 3 ? 1.0 - 0.1 * static_cast<double>(epoch) : 2.0}};  // best (0.8) at epoch 2
  };
  const std::string job = "model: {type: mf, factors: 4}\ntrain:\n  epochs: 20\n  batch_size: 1000\n"
                          "  early_stopping: {metric: rmse, patience: 2";
  const Trained t = train(job + "}\n", std::move(hooks));
  EXPECT_TRUE(t.summary.stopped_early);
  EXPECT_EQ(t.summary.best_epoch, 2);
  EXPECT_EQ(calls, 5);
  EXPECT_DOUBLE_EQ(t.summary.best_metrics[0].second, 0.8);
  TrainerHooks again;
  again.evaluate = [](std::int64_t) -> MetricValues { return {{"rmse", 1.0}}; };
  RF_EXPECT_ERROR(train(job + ", mode: max}\n", std::move(again)), ErrorKind::kConfig,
                  "train.early_stopping.mode max with rmse, an error that is better smaller");
}

// A run stopped by SIGUSR1 from its first step, counting its evaluations.
Trained train_stopped(const std::string& job, int& evaluations) {
  TrainerHooks hooks;
  hooks.evaluate = [&](std::int64_t) -> MetricValues {
    ++evaluations;
    return {{"recall@20", 0.1}};
  };
  request_stop();
  Trained t = train(job, std::move(hooks));
  clear_stop_request();
  return t;
}

// A graceful stop (SIGUSR1) at an epoch's end evaluates only when the schedule
// does: an extra evaluation would move the early-stopping state saved with
// the checkpoint, and the resumed run would stop elsewhere. ALS's steps are
// whole epochs, so the stop lands at the end of epoch 0 (eval_every 3).
TEST(Trainer, AGracefulStopEvaluatesOnlyOnSchedule) {
  int calls = 0;
  const Trained t = train_stopped("model: {type: als, factors: 4}\ntrain:\n  epochs: 6\n  eval_every: 3\n"
                                  "  early_stopping: {metric: recall@20, patience: 1}\n",
                                  calls);
  EXPECT_TRUE(t.summary.stopped_by_signal);
  EXPECT_EQ(t.summary.epochs, 1);
  EXPECT_EQ(calls, 0);
}

// A stop that arrives with the run's last step (max_steps mid-epoch, or the
// last epoch's end) is no interruption: the final evaluation runs and the
// run ends as planned (stopped_by_signal would skip the test evaluation and
// eval.json, and a resume would find nothing left to do).
TEST(Trainer, AGracefulStopAtTheLastStepEndsTheRunAsPlanned) {
  for (const std::string& job : {std::string("model: {type: mf, factors: 4}\ntrain: {epochs: 5, batch_size: 500, max_steps: 1}\n"),
                                 std::string("model: {type: als, factors: 4}\ntrain: {epochs: 1}\n")}) {
    int calls = 0;
    const Trained t = train_stopped(job, calls);
    EXPECT_FALSE(t.summary.stopped_by_signal) << job;
    EXPECT_EQ(t.summary.steps, 1) << job;
    EXPECT_EQ(calls, 1) << job;
  }
}

// A max_steps beyond the epochs is a cap only: the warm-up/cosine schedule
// spans the steps the epochs take, and ends at min_lr_ratio.
TEST(Trainer, ALargerMaxStepsDoesNotStretchTheSchedule) {
  const std::string job = "model: {type: mf, factors: 4}\ntrain:\n  epochs: 2\n  batch_size: 500\n"
                          "  lr_schedule: {type: warmup_cosine, warmup_steps: 3}\n";
  const Trained plain = train(job), capped = train(job + "  max_steps: 1000\n");
  ASSERT_LT(plain.summary.steps, 1000);
  EXPECT_EQ(capped.summary.steps, plain.summary.steps);
  for (std::size_t p = 0; p < plain.model->parameters().size(); ++p) {
    EXPECT_EQ(capped.model->parameters()[p]->value().to_vector<float>(),
              plain.model->parameters()[p]->value().to_vector<float>())
        << plain.model->parameters()[p]->name();
  }
}

TEST(Trainer, DropLastDroppingEveryBatchIsAConfigError) {
  // The tiny preset's 5,800 training interactions, all in one incomplete batch.
  RF_EXPECT_ERROR(train("model: {type: mf, factors: 4}\ntrain: {epochs: 1, batch_size: 10000, drop_last: true}"),
                  ErrorKind::kConfig, "train.drop_last: train.drop_last drops every batch: the model trains on 5800 "
                                      "examples, fewer than train.batch_size 10000");
  EXPECT_EQ(train("model: {type: mf, factors: 4}\ntrain: {epochs: 1, batch_size: 10000}").summary.steps, 1);
}

TEST(Trainer, AnEpochModelCannotSkipAStep) {
  RF_EXPECT_ERROR(train("model: {type: als, factors: 4}\ntrain: {epochs: 1, nan_policy: skip_step}"),
                  ErrorKind::kConfig, "train.nan_policy skip_step: model als trains a whole epoch per step");
  EXPECT_EQ(train("model: {type: als, factors: 4}\ntrain: {epochs: 2, fingerprint_every: 1}").summary.steps, 2);
}

TEST(Trainer, BatchSmallerThanRanksIsAConfigError) {
  RF_EXPECT_ERROR(testing::tiny_job("train: {batch_size: 0}"), ErrorKind::kConfig, "train.batch_size");
}

}  // namespace
}  // namespace recforge
