// The ranking evaluator on 2 ranks gives exactly the 1-rank metrics (full and
// sampled protocols), on MF trained for a few steps over the tiny preset.
#include <gtest/gtest.h>

#include "recforge/eval/evaluator.hpp"
#include "recforge/registry/plugin_registry.hpp"
#include "recforge/train/trainer.hpp"
#include "testing/mpi.hpp"
#include "testing/training_job.hpp"

namespace recforge {
namespace {

TEST(EvalMpi, OneAndTwoRanksGiveIdenticalMetrics) {
  RF_REQUIRE_RANKS(2);
  const ConfigNode job = testing::tiny_job("model: {type: mf, factors: 8}\ntrain: {epochs: 1, batch_size: 128}\n");
  const data::Dataset dataset = testing::tiny_dataset(job);
  const Resources res = Resources::cpu();
  auto single = make_single_communicator();
  auto model = ModelRegistry::instance().get("mf").create(job.section("model"));
  model->build(ModelContext{&dataset, &res, single.get(), 42});
  Trainer(job.section("train"), *model, dataset, *single, res, 42, nullptr).fit();  // same on every rank
  for (const char* protocol : {"full", "sampled"}) {
    const auto& entry = EvaluatorRegistry::instance().get("ranking");
    const ConfigNode config = entry.schema().resolve(
        load_config_string(std::string("protocol: ") + protocol + "\nk: [5, 10]\nsampled_negatives: 50\ndiversity: true", "e.yaml"));
    auto one = entry.create(config), two = entry.create(config);
    const MetricValues a = one->evaluate(*model, dataset.test, EvalContext{&dataset, &res, single.get(), 7});
    const MetricValues b = two->evaluate(*model, dataset.test, EvalContext{&dataset, &res, &testing::world(), 7});
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].first, b[i].first);
      EXPECT_EQ(a[i].second, b[i].second) << protocol << " " << a[i].first;
    }
  }
}

}  // namespace
}  // namespace recforge
