// 1 rank with global batch 2B and 2 ranks with batch B each end with the same
// parameters (MF, mse and bpr, with momentum), through the sparse row exchange
// and the dense fallback; and the two exchange paths agree bit for bit.
#include <gtest/gtest.h>

#include "recforge/registry/plugin_registry.hpp"
#include "recforge/train/trainer.hpp"
#include "testing/mpi.hpp"
#include "testing/tensor_testing.hpp"
#include "testing/training_job.hpp"

namespace recforge {
namespace {

std::vector<Tensor> train(Communicator& comm, const std::string& loss, double density_threshold) {
  const ConfigNode job = testing::tiny_job(
      "model: {type: mf, factors: 8, loss: " + loss + "}\n"
      "train:\n  epochs: 2\n  batch_size: 64\n  optimizer: {lr: " + std::string(loss == "mse" ? "0.3" : "3.0") +
      ", momentum: 0.9, weight_decay: 0.001}\n"
      "  sparse_density_threshold: " + std::to_string(density_threshold) + "\n  fingerprint_every: 5\n");
  static const data::Dataset dataset = testing::tiny_dataset(job);
  const Resources res = Resources::cpu();
  auto model = ModelRegistry::instance().get("mf").create(job.section("model"));
  model->build(ModelContext{&dataset, &res, &comm, 42});
  Trainer(job.section("train"), *model, dataset, comm, res, 42, nullptr).fit();
  std::vector<Tensor> params;
  for (Parameter* p : model->parameters()) params.push_back(p->value().to(Device::cpu()));
  return params;
}

class Equivalence : public ::testing::TestWithParam<std::string> {};

TEST_P(Equivalence, OneRankWithDoubleBatchEqualsTwoRanks) {
  RF_REQUIRE_RANKS(2);
  const std::string loss = GetParam();
  auto single = make_single_communicator();
  const auto reference = train(*single, loss, 1e9);
  const auto sparse = train(testing::world(), loss, 1e9);
  const auto dense = train(testing::world(), loss, 0.0);
  ASSERT_EQ(reference.size(), sparse.size());
  for (std::size_t k = 0; k < reference.size(); ++k) {
    // Duplicate rows sum in a different association on 1 and 2 ranks: f32 tolerance.
    RF_EXPECT_TENSOR_NEAR(sparse[k], reference[k], 1e-5, 1e-4) << "parameter " << k;
    // Sparse exchange and dense fallback add the same two contributions: identical.
    RF_EXPECT_TENSOR_NEAR(dense[k], sparse[k], 0.0) << "parameter " << k;
  }
}

INSTANTIATE_TEST_SUITE_P(Losses, Equivalence, ::testing::Values("mse", "bpr"));

}  // namespace
}  // namespace recforge
