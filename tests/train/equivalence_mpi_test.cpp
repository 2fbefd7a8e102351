// 1 rank with global batch 2B and 2 ranks with batch B each end with the same
// parameters (MF mse and bpr with momentum; NCF NeuMF with lazy and dense
// embedding updates and the two-tower in-batch softmax (with and without item
// genres) with Adam, whose gradients come from the autograd and,
// for the two-tower, an all-gather of the batch's item vectors), through the sparse row exchange and the
// dense fallback; and the two exchange paths agree bit for bit.
#include <gtest/gtest.h>

#include <cmath>

#include "recforge/registry/plugin_registry.hpp"
#include "recforge/train/trainer.hpp"
#include "testing/mpi.hpp"
#include "testing/tensor_testing.hpp"
#include "testing/training_job.hpp"

namespace recforge {
namespace {

struct Case {
  std::string name, model, optimizer;
  double rtol, atol;
  bool genres = false;  // items with made-up genres (two_tower's item features)
};

std::vector<Tensor> train(Communicator& comm, const Case& c, double density_threshold) {
  const ConfigNode job = testing::tiny_job(
      "model: " + c.model + "\n"
      "train:\n  epochs: 2\n  batch_size: 64\n  optimizer: " + c.optimizer + "\n"
      "  sparse_density_threshold: " + std::to_string(density_threshold) + "\n  fingerprint_every: 5\n");
  static const data::Dataset plain = testing::tiny_dataset(job);
  static const data::Dataset genres = testing::with_genres(plain);
  const data::Dataset& dataset = c.genres ? genres : plain;
  const Resources res = Resources::cpu();
  auto model = ModelRegistry::instance().get(job.section("model").get_string("type")).create(job.section("model"));
  model->build(ModelContext{&dataset, &res, &comm, 42});
  Trainer(job.section("train"), *model, dataset, comm, res, 42, nullptr).fit();
  std::vector<Tensor> params;
  for (Parameter* p : model->parameters()) params.push_back(p->value().to(Device::cpu()));
  return params;
}

class Equivalence : public ::testing::TestWithParam<Case> {};

TEST_P(Equivalence, OneRankWithDoubleBatchEqualsTwoRanks) {
  RF_REQUIRE_RANKS(2);
  const Case& c = GetParam();
  auto single = make_single_communicator();
  const auto reference = train(*single, c, 1e9);
  const auto sparse = train(testing::world(), c, 1e9);
  const auto dense = train(testing::world(), c, 0.0);
  ASSERT_EQ(reference.size(), sparse.size());
  for (std::size_t k = 0; k < reference.size(); ++k) {
    // Gradients sum in a different association on 1 and 2 ranks: f32 tolerance
    // (Adam divides by sqrt(v) and so magnifies the last bits a little).
    RF_EXPECT_TENSOR_NEAR(sparse[k], reference[k], c.atol, c.rtol) << "parameter " << k;
    // Sparse exchange and dense fallback add the same two contributions: identical.
    RF_EXPECT_TENSOR_NEAR(dense[k], sparse[k], 0.0) << "parameter " << k;
  }
}

// The negative control of the gathered negatives: without the all-gather each
// rank's softmax sees only its own 32 items, and the runs must differ.
TEST(EquivalenceControl, TwoTowerWithoutGatheredNegativesDiffers) {
  RF_REQUIRE_RANKS(2);
  auto single = make_single_communicator();
  const Case gathered{"", "{type: two_tower, dim: 8, tower: [8], temperature: 0.2}", "{type: adam, lr: 0.01}", 0, 0};
  Case local = gathered;
  local.model = "{type: two_tower, dim: 8, tower: [8], temperature: 0.2, gather_negatives: false}";
  const auto reference = train(*single, gathered, 1e9);
  const auto split = train(testing::world(), local, 1e9);
  double largest = 0;
  for (std::size_t k = 0; k < reference.size(); ++k) {
    const auto a = reference[k].to_vector<float>(), b = split[k].to_vector<float>();
    for (std::size_t i = 0; i < a.size(); ++i) largest = std::max(largest, static_cast<double>(std::fabs(a[i] - b[i])));
  }
  EXPECT_GT(largest, 1e-2);
}

INSTANTIATE_TEST_SUITE_P(
    Models, Equivalence,
    ::testing::Values(Case{"mf_mse", "{type: mf, factors: 8, loss: mse}", "{lr: 0.3, momentum: 0.9, weight_decay: 0.001}",
                           1e-4, 1e-5},
                      Case{"mf_bpr", "{type: mf, factors: 8, loss: bpr}", "{lr: 3.0, momentum: 0.9, weight_decay: 0.001}",
                           1e-4, 1e-5},
                      Case{"ncf_neumf", "{type: ncf, factors: 8, layers: 2, negatives: 2, dropout: 0.2}", "{type: adam, lr: 0.01}",
                           1e-3, 1e-5},
                      // Every embedding row updated every step (PyTorch's dense Adam).
                      Case{"ncf_dense_embedding_updates", "{type: ncf, factors: 8, layers: 2, negatives: 2}",
                           "{type: adam, lr: 0.01, embedding_updates: dense}", 1e-3, 1e-5},
                      // In-batch negatives gathered across ranks: 2 x 32 rows see the same 64 negatives as 1 x 64.
                      Case{"two_tower_softmax", "{type: two_tower, dim: 8, tower: [8, 8], dropout: 0.2, temperature: 0.2}",
                           "{type: adam, lr: 0.01}", 1e-3, 1e-5},
                      // The genre table is a dense parameter: its gradient is all-reduced.
                      Case{"two_tower_genres", "{type: two_tower, dim: 8, tower: [8], temperature: 0.2}",
                           "{type: adam, lr: 0.01}", 1e-3, 1e-5, true},
                      // Graph propagated redundantly on each rank, the dense E_0 gradient all-reduced.
                      Case{"lightgcn", "{type: lightgcn, dim: 8, layers: 2}", "{type: adam, lr: 0.01}", 1e-3, 1e-5},
                      // Examples are users; the loss is normalised by the global batch's positions.
                      Case{"sasrec", "{type: sasrec, dim: 8, blocks: 1, max_len: 12, dropout: 0.2}",
                           "{type: adam, lr: 0.01}", 1e-3, 1e-5}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

}  // namespace
}  // namespace recforge
