// ALS: a known answer, CG converging to the exact solve, a deterministic Gram
// matrix and loss, loss decreasing every iteration, fold-in equal to a full solve, and
// explicit ALS with biases.
#include <gtest/gtest.h>

#include <omp.h>

#include <cmath>

#include "als/als_kernels.hpp"
#include "als_cases.hpp"
#include "recforge/core/philox.hpp"
#include "recforge/core/tensor.hpp"
#include "recforge/kernels/gemm.hpp"
#include "recforge/kernels/random.hpp"
#include "recforge/registry/plugin_registry.hpp"
#include "recforge/train/trainer.hpp"
#include "testing/error_testing.hpp"
#include "testing/tensor_testing.hpp"
#include "testing/training_job.hpp"

namespace recforge::als {
namespace {

const Resources kCpu = Resources::cpu();

TEST(AlsKernels, KnownAnswerOnATwoFactorProblem) {
  // Y = [[1, 0], [0, 2], [1, 1]]; user observes items 0 (c = 3) and 2 (c = 2), p = 1.
  // A = G + 2 y0 y0^T + 1 y2 y2^T + l I with G = Y^T Y = [[2, 1], [1, 5]], l = 0.5:
  //   [[2 + 2 + 1 + 0.5, 1 + 0 + 1], [2, 5 + 0 + 1 + 0.5]] = [[5.5, 2], [2, 6.5]]
  // b = 3 y0 + 2 y2 = [5, 2]; x = A^-1 b = [(5 * 6.5 - 2 * 2), (5.5 * 2 - 2 * 5)] / (5.5 * 6.5 - 4)
  Case c;
  c.factors = Tensor::zeros({1, 2}, DType::kF32);
  c.other = Tensor::from_vector(std::vector<float>{1, 0, 0, 2, 1, 1}, {3, 2});
  c.gram = Tensor::empty({2, 2}, DType::kF32);
  gram(kCpu, c.other, c.gram);
  EXPECT_EQ(c.gram.to_vector<float>(), (std::vector<float>{2, 1, 1, 5}));
  c.offsets = Tensor::from_vector(std::vector<std::int64_t>{0, 2});
  c.cols = Tensor::from_vector(std::vector<std::int32_t>{0, 2});
  c.weights = Tensor::from_vector(std::vector<float>{3, 2});
  c.targets = Tensor::empty({0}, DType::kF32);
  const Options o{.reg = 0.5f, .unobserved_weight = 1.0f};
  solve_cholesky(kCpu, c.problem(), o);
  const double det = 5.5 * 6.5 - 4;
  EXPECT_NEAR(c.factors.data_as<float>()[0], (5 * 6.5 - 2 * 2) / det, 1e-6);
  EXPECT_NEAR(c.factors.data_as<float>()[1], (5.5 * 2 - 2 * 5) / det, 1e-6);
  // Many CG steps from zero reach the same point.
  Case g = c;
  g.factors = Tensor::zeros({1, 2}, DType::kF32);
  solve_cg(kCpu, g.problem(), Options{.reg = 0.5f, .unobserved_weight = 1.0f, .cg_steps = 10});
  RF_EXPECT_TENSOR_NEAR(g.factors, c.factors, 1e-6);
}

class CgConvergence : public ::testing::TestWithParam<std::tuple<std::int64_t, bool>> {};

TEST_P(CgConvergence, ConvergesToTheCholeskySolution) {
  const auto [d, implicit] = GetParam();
  Case exact = random_case(40, 60, d, implicit, 7);
  Case cg = exact;
  cg.factors = exact.factors.to(Device::cpu());
  Options o{.reg = 0.3f, .unobserved_weight = implicit ? 1.0f : 0.0f, .reg_exponent = implicit ? 0.0f : 1.0f};
  solve_cholesky(kCpu, exact.problem(), o);
  o.cg_steps = static_cast<int>(2 * d);
  solve_cg(kCpu, cg.problem(), o);
  RF_EXPECT_TENSOR_NEAR(cg.factors, exact.factors, 2e-4, 1e-3);
}

INSTANTIATE_TEST_SUITE_P(Shapes, CgConvergence,
                         ::testing::Values(std::make_tuple(8, true), std::make_tuple(32, true), std::make_tuple(64, true),
                                           std::make_tuple(5, false), std::make_tuple(64, false)));

// A row whose normal equations are not positive definite is named and keeps
// its factors; the other rows are solved.
TEST(AlsKernels, AnIndefiniteRowIsNamedAndKeepsItsFactors) {
  const Case c = indefinite_case();
  ASSERT_GT(c.offsets.to_vector<std::int64_t>()[3], c.offsets.to_vector<std::int64_t>()[2]);
  const std::vector<float> initial = c.factors.to_vector<float>();
  RF_EXPECT_ERROR(solve_cholesky(kCpu, c.problem(), Options{.reg = 0.1f, .unobserved_weight = 1.0f}), ErrorKind::kNumerical,
                  "als: the normal equations of row 2 are not positive definite");
  const std::vector<float> after = c.factors.to_vector<float>();
  for (std::size_t k = 0; k < 8; ++k) {
    EXPECT_EQ(after[2 * 8 + k], initial[2 * 8 + k]) << k;
    EXPECT_NE(after[k], initial[k]) << k;  // row 0 was solved
  }
}

TEST(AlsKernels, GramDoesNotDependOnTheThreadCount) {
  Tensor y = Tensor::empty({10000, 64}, DType::kF32);
  kernels::fill_normal(kCpu, y, 0, 1, 3, 3);
  Tensor one = Tensor::empty({64, 64}, DType::kF32), two = Tensor::empty({64, 64}, DType::kF32);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  gram(kCpu, y, one);
  omp_set_num_threads(std::max(2, threads));
  gram(kCpu, y, two);
  omp_set_num_threads(threads);
  EXPECT_EQ(one.to_vector<float>(), two.to_vector<float>());
  Tensor reference = Tensor::empty({64, 64}, DType::kF32);
  kernels::gemm_naive(y, y, reference, {.trans_a = true});
  RF_EXPECT_TENSOR_NEAR(one, reference, 1e-2, 1e-4);
}

// The loss is logged every epoch; two runs of one job must log the same bits.
TEST(AlsKernels, LossDoesNotDependOnTheThreadCount) {
  const Case c = random_case(3000, 500, 16, true, 12);
  const Options o{.reg = 0.2f, .unobserved_weight = 1.0f};
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const double one = loss(kCpu, c.problem(), o);
  omp_set_num_threads(std::max(3, threads));
  const double three = loss(kCpu, c.problem(), o);
  omp_set_num_threads(threads);
  EXPECT_EQ(one, three);
  EXPECT_GT(one, 0.0);
}

TEST(AlsKernels, RejectsMismatchedProblems) {
  Case c = random_case(3, 5, 4, true, 1);
  c.offsets = Tensor::from_vector(std::vector<std::int64_t>{0, 1});
  RF_EXPECT_ERROR(solve_cg(kCpu, c.problem(), {}), ErrorKind::kInvalidArgument, "2 offsets for 3 rows");
}

struct Trained {
  std::unique_ptr<Model> model;
  std::vector<double> losses;
};

Trained train(const std::string& model_yaml, int epochs) {
  const ConfigNode job = testing::tiny_job("model: " + model_yaml + "\ntrain: {epochs: 1}\n");
  static const data::Dataset dataset = testing::tiny_dataset(job);
  static auto comm = make_single_communicator();
  Trained t;
  t.model = ModelRegistry::instance().get("als").create(job.section("model"));
  t.model->build(ModelContext{&dataset, &kCpu, comm.get(), 42});
  for (int e = 0; e < epochs; ++e) t.losses.push_back(t.model->train_epoch(e).loss_sum);
  return t;
}

TEST(AlsModel, LossDecreasesEveryIteration) {
  for (const char* yaml : {"{type: als, factors: 8, alpha: 10, reg: 0.1, solver: cholesky}",
                           "{type: als, factors: 8, alpha: 10, reg: 0.1, solver: cg}",
                           "{type: als, factors: 8, alpha: 0, unobserved_weight: 0.05, reg: 0.01, reg_exponent: 1, solver: cholesky}",
                           "{type: als, factors: 8, feedback: explicit, reg: 0.05, solver: cholesky, reg_exponent: 1}"}) {
    const Trained t = train(yaml, 6);
    for (std::size_t e = 1; e < t.losses.size(); ++e) {
      EXPECT_LT(t.losses[e], t.losses[e - 1]) << yaml << " epoch " << e;
    }
  }
}

TEST(AlsModel, FoldInEqualsTheFullSolveOfThatUser) {
  const Trained t = train("{type: als, factors: 8, alpha: 10, reg: 0.1, solver: cholesky}", 3);
  const data::Dataset& d = *t.model->context().dataset;
  Tensor users, items;
  ASSERT_TRUE(t.model->embeddings(users, items));
  for (std::int32_t u : {0, 17, 123}) {
    std::vector<std::int32_t> seen;
    std::vector<float> ones;
    for (std::size_t r = 0; r < d.train.user.size(); ++r) {
      if (d.train.user[r] == u) {
        seen.push_back(d.train.item[r]);
        ones.push_back(1.0f);
      }
    }
    std::vector<float> folded(8);
    ASSERT_TRUE(t.model->fold_in(seen, ones, folded));
    // The exact solve of row u against the current items, through the kernel.
    Case c;
    c.factors = Tensor::zeros({1, 8}, DType::kF32);
    c.other = items;
    c.gram = Tensor::empty({8, 8}, DType::kF32);
    gram(kCpu, items, c.gram);
    std::vector<std::int32_t> sorted = seen;
    std::sort(sorted.begin(), sorted.end());
    c.offsets = Tensor::from_vector(std::vector<std::int64_t>{0, static_cast<std::int64_t>(sorted.size())});
    c.cols = Tensor::from_vector(sorted);
    c.weights = Tensor::from_vector(std::vector<float>(sorted.size(), 11.0f));  // 1 + alpha
    c.targets = Tensor::empty({0}, DType::kF32);
    solve_cholesky(kCpu, c.problem(), Options{.reg = 0.1f, .unobserved_weight = 1.0f});
    for (int k = 0; k < 8; ++k) EXPECT_NEAR(folded[static_cast<std::size_t>(k)], c.factors.data_as<float>()[k], 1e-5) << "user " << u;
  }
  std::vector<float> out(8);
  RF_EXPECT_ERROR(t.model->fold_in(std::vector<std::int32_t>{100000}, std::vector<float>{1}, out), ErrorKind::kInvalidArgument,
                  "fold_in: item 100000 outside");
}

// A posted value that makes a confidence non-positive is the caller's input
// (the server answers 400), not a failed factorisation (500).
TEST(AlsModel, FoldInRefusesValuesThatGiveNoPositiveConfidence) {
  const Trained t = train("{type: als, factors: 4, alpha: 1, reg: 0.1, solver: cholesky, confidence_from: rating}", 1);
  std::vector<float> out(4);
  EXPECT_TRUE(t.model->fold_in(std::vector<std::int32_t>{0}, std::vector<float>{2}, out));
  RF_EXPECT_ERROR(t.model->fold_in(std::vector<std::int32_t>{0, 1}, std::vector<float>{2, -5}, out), ErrorKind::kInvalidArgument,
                  "fold_in: value -5 gives the confidence 1 + 1 x value = -4; it must be positive");
  RF_EXPECT_ERROR(t.model->fold_in(std::vector<std::int32_t>{0}, std::vector<float>{INFINITY}, out), ErrorKind::kInvalidArgument,
                  "it must be positive");
  const Trained e = train("{type: als, factors: 4, feedback: explicit, reg: 0.1, solver: cholesky}", 1);
  RF_EXPECT_ERROR(e.model->fold_in(std::vector<std::int32_t>{0}, std::vector<float>{NAN}, out), ErrorKind::kInvalidArgument,
                  "fold_in: value nan is not finite");
}

TEST(AlsModel, ExplicitWithBiasesPredictsBetterThanWithout) {
  const Trained plain = train("{type: als, factors: 4, feedback: explicit, reg: 0.05, reg_exponent: 1, solver: cholesky}", 8);
  const Trained biased = train("{type: als, factors: 4, feedback: explicit, reg: 0.05, reg_exponent: 1, solver: cholesky, biases: true}", 8);
  const data::Dataset& d = *plain.model->context().dataset;
  const auto rmse = [&](Model& m) {
    std::vector<float> out(d.train.user.size());
    EXPECT_TRUE(m.predict(d.train.user, d.train.item, out));
    double s = 0;
    for (std::size_t k = 0; k < out.size(); ++k) s += std::pow(out[k] - d.train.rating[k], 2);
    return std::sqrt(s / static_cast<double>(out.size()));
  };
  EXPECT_LT(rmse(*biased.model), rmse(*plain.model));
  // Embeddings reproduce the predictions' ranking terms: [p, b_u, 1] . [q, 1, b_i] = prediction.
  Tensor users, items;
  ASSERT_TRUE(biased.model->embeddings(users, items));
  std::vector<float> one(1);
  biased.model->predict(std::vector<std::int32_t>{3}, std::vector<std::int32_t>{5}, one);
  float dot = 0;
  for (std::int64_t c = 0; c < users.size(1); ++c) dot += users.view().at<float>(3, c) * items.view().at<float>(5, c);
  EXPECT_NEAR(dot, one[0], 1e-5);
  RF_EXPECT_ERROR(train("{type: als, biases: true}", 1), ErrorKind::kConfig, "biases are supported with feedback: explicit only");
}

}  // namespace
}  // namespace recforge::als
