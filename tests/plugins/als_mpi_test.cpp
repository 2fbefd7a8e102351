// ALS under mpirun: each rank solves its partition of users and items and the
// factors are all-gathered. Every row's solve reads the same inputs on any
// number of ranks, and the Gram matrix sums fixed blocks in a fixed order, so
// the factors after training are bit-identical to a single-process run.
#include <gtest/gtest.h>

#include "recforge/registry/plugin_registry.hpp"
#include "recforge/train/trainer.hpp"
#include "testing/mpi.hpp"
#include "testing/tensor_testing.hpp"
#include "testing/training_job.hpp"

namespace recforge {
namespace {

struct Result {
  Tensor users, items;
  double last_loss = 0;
};

Result train(Communicator& comm, const std::string& model_yaml) {
  const ConfigNode job = testing::tiny_job("model: " + model_yaml + "\ntrain: {epochs: 3}\n");
  static const data::Dataset dataset = testing::tiny_dataset(job);
  const Resources res = Resources::cpu();
  auto model = ModelRegistry::instance().get("als").create(job.section("model"));
  model->build(ModelContext{&dataset, &res, &comm, 42});
  Result r;
  for (int e = 0; e < 3; ++e) r.last_loss = model->train_epoch(e).loss_sum;
  EXPECT_TRUE(model->embeddings(r.users, r.items));
  return r;
}

class AlsRanks : public ::testing::TestWithParam<std::string> {};

TEST_P(AlsRanks, FactorsAreIdenticalOnOneAndManyRanks) {
  RF_REQUIRE_RANKS(2);
  auto single = make_single_communicator();
  const Result reference = train(*single, GetParam());
  const Result distributed = train(testing::world(), GetParam());
  RF_EXPECT_TENSOR_NEAR(distributed.users, reference.users, 0.0);
  RF_EXPECT_TENSOR_NEAR(distributed.items, reference.items, 0.0);
  // The loss is a sum of per-rank partial sums: equal up to f64 association.
  EXPECT_NEAR(distributed.last_loss, reference.last_loss, 1e-9 * std::abs(reference.last_loss));
}

INSTANTIATE_TEST_SUITE_P(Solvers, AlsRanks,
                         ::testing::Values("{type: als, factors: 8, alpha: 10, reg: 0.1, solver: cg}",
                                           "{type: als, factors: 16, alpha: 0, unobserved_weight: 0.05, reg: 0.01, "
                                           "reg_exponent: 1, solver: cholesky}",
                                           "{type: als, factors: 4, feedback: explicit, biases: true, reg: 0.05, "
                                           "reg_exponent: 1, solver: cg}"));

}  // namespace
}  // namespace recforge
