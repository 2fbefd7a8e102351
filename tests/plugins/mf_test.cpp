// MF kernels: a hand-computed example and finite-difference gradient checks of
// both losses (the kernels' analytic gradients against the loss they report).
#include <gtest/gtest.h>

#include <cmath>

#include "mf/mf_kernels.hpp"
#include "recforge/core/tensor.hpp"
#include "recforge/kernels/random.hpp"

namespace recforge::mf {
namespace {

const Resources kCpu = Resources::cpu();

struct Problem {
  Tensor user, item, user_bias, item_bias;
  Tensor global_bias = Tensor::from_vector(std::vector<float>{0.3f});
  Tensor u, i, j, r;
};

Problem make_problem(std::int64_t d) {
  Problem p;
  p.user = Tensor::empty({3, d}, DType::kF32);
  p.item = Tensor::empty({4, d}, DType::kF32);
  p.user_bias = Tensor::empty({3, 1}, DType::kF32);
  p.item_bias = Tensor::empty({4, 1}, DType::kF32);
  kernels::fill_normal(kCpu, p.user, 0, 0.5f, 1, 1);
  kernels::fill_normal(kCpu, p.item, 0, 0.5f, 1, 2);
  kernels::fill_normal(kCpu, p.user_bias, 0, 0.5f, 1, 3);
  kernels::fill_normal(kCpu, p.item_bias, 0, 0.5f, 1, 4);
  p.u = Tensor::from_vector(std::vector<std::int32_t>{0, 2, 1});
  p.i = Tensor::from_vector(std::vector<std::int32_t>{1, 3, 0});
  p.j = Tensor::from_vector(std::vector<std::int32_t>{2, 0, 3});
  p.r = Tensor::from_vector(std::vector<float>{4.0f, 1.5f, 3.0f});
  return p;
}

struct Output {
  Tensor du, di, dj, dub, dib, djb, dg, loss;
};

Output run(const Problem& p, bool bpr, float scale, float reg) {
  const std::int64_t n = 3, d = p.user.size(1);
  Output o{Tensor::empty({n, d}, DType::kF32), Tensor::empty({n, d}, DType::kF32), Tensor::empty({n, d}, DType::kF32),
           Tensor::empty({n, 1}, DType::kF32), Tensor::empty({n, 1}, DType::kF32), Tensor::empty({n, 1}, DType::kF32),
           Tensor::empty({n}, DType::kF32), Tensor::empty({n}, DType::kF32)};
  const Tables t{p.user, p.item, p.user_bias, p.item_bias, p.global_bias};
  const Batch b{p.u, p.i, p.j, p.r};
  const Grads g{o.du, o.di, o.dj, o.dub, o.dib, o.djb, o.dg, o.loss};
  if (bpr) {
    bpr_step(kCpu, t, b, g, scale, reg);
  } else {
    mse_step(kCpu, t, b, g, scale, reg);
  }
  return o;
}

// Total objective: scale * sum(loss) + reg * scale * (sum over touched rows of |row|^2),
// the function whose gradient the kernels return.
double objective(const Problem& p, bool bpr, float scale, float reg) {
  const Output o = run(p, bpr, scale, reg);
  double total = 0;
  for (float l : o.loss.to_vector<float>()) total += scale * l;
  const std::int64_t d = p.user.size(1);
  for (std::int64_t e = 0; e < 3; ++e) {
    const auto row_sq = [&](const Tensor& t, std::int32_t r, std::int64_t cols) {
      double s = 0;
      for (std::int64_t c = 0; c < cols; ++c) s += std::pow(t.data_as<float>()[r * cols + c], 2);
      return s;
    };
    const std::int32_t u = p.u.data_as<std::int32_t>()[e], i = p.i.data_as<std::int32_t>()[e], j = p.j.data_as<std::int32_t>()[e];
    total += reg * scale * (row_sq(p.user, u, d) + row_sq(p.item, i, d) + row_sq(p.item_bias, i, 1));
    total += bpr ? reg * scale * (row_sq(p.item, j, d) + row_sq(p.item_bias, j, 1)) : reg * scale * row_sq(p.user_bias, u, 1);
  }
  return total;
}

TEST(MfKernels, MseKnownAnswer) {
  Problem p = make_problem(2);
  // Overwrite with easy numbers: P[0] = (1, 2), Q[1] = (3, -1), b_u = 0.5, b_i = -0.25, g = 0.3.
  p.user.data_as<float>()[0] = 1;
  p.user.data_as<float>()[1] = 2;
  p.item.data_as<float>()[2] = 3;
  p.item.data_as<float>()[3] = -1;
  p.user_bias.data_as<float>()[0] = 0.5f;
  p.item_bias.data_as<float>()[1] = -0.25f;
  const Output o = run(p, false, 1.0f, 0.0f);
  // pred = 0.3 + 0.5 - 0.25 + (3 - 2) = 1.55; err = 1.55 - 4 = -2.45
  EXPECT_NEAR(o.loss.data_as<float>()[0], 2.45 * 2.45, 1e-5);
  EXPECT_NEAR(o.du.data_as<float>()[0], 2 * -2.45 * 3, 1e-5);   // 2 e q
  EXPECT_NEAR(o.di.data_as<float>()[1], 2 * -2.45 * 2, 1e-5);   // 2 e p
  EXPECT_NEAR(o.dg.data_as<float>()[0], 2 * -2.45, 1e-5);
}

void finite_difference_check(bool bpr) {
  const float scale = 0.5f, reg = 0.1f;
  Problem p = make_problem(5);
  const Output analytic = run(p, bpr, scale, reg);
  // Accumulate analytic gradients per table entry (rows repeat across examples).
  const auto check_table = [&](Tensor& table, const Tensor& ids_a, const Tensor& grad_a, const Tensor* ids_b,
                               const Tensor* grad_b, const char* name) {
    const std::int64_t cols = table.size(1);
    for (std::int64_t r = 0; r < table.size(0); ++r) {
      for (std::int64_t c = 0; c < cols; ++c) {
        double expected = 0;
        for (std::int64_t e = 0; e < 3; ++e) {
          if (ids_a.data_as<std::int32_t>()[e] == r) expected += grad_a.data_as<float>()[e * cols + c];
          if (ids_b && ids_b->data_as<std::int32_t>()[e] == r) expected += grad_b->data_as<float>()[e * cols + c];
        }
        float& x = table.data_as<float>()[r * cols + c];
        const float saved = x;
        const double h = 1e-3;
        x = static_cast<float>(saved + h);
        const double up = objective(p, bpr, scale, reg);
        x = static_cast<float>(saved - h);
        const double down = objective(p, bpr, scale, reg);
        x = saved;
        EXPECT_NEAR((up - down) / (2 * h), expected, 2e-3 * (1 + std::fabs(expected))) << name << "[" << r << "," << c << "]";
      }
    }
  };
  check_table(p.user, p.u, analytic.du, nullptr, nullptr, "user");
  check_table(p.item, p.i, analytic.di, bpr ? &p.j : nullptr, bpr ? &analytic.dj : nullptr, "item");
  check_table(p.item_bias, p.i, analytic.dib, bpr ? &p.j : nullptr, bpr ? &analytic.djb : nullptr, "item_bias");
  if (!bpr) check_table(p.user_bias, p.u, analytic.dub, nullptr, nullptr, "user_bias");
}

TEST(MfKernels, MseGradientsMatchFiniteDifferences) { finite_difference_check(false); }
TEST(MfKernels, BprGradientsMatchFiniteDifferences) { finite_difference_check(true); }

TEST(MfKernels, BprLossIsStableForLargeMargins) {
  Problem p = make_problem(1);
  p.user.data_as<float>()[0] = 100;
  p.item.data_as<float>()[1] = 100;
  p.item.data_as<float>()[2] = -100;
  const Output o = run(p, true, 1.0f, 0.0f);
  EXPECT_TRUE(std::isfinite(o.loss.data_as<float>()[0]));
  EXPECT_NEAR(o.loss.data_as<float>()[0], 0.0, 1e-6);
}

TEST(MfKernels, RejectsMismatchedBatches) {
  Problem p = make_problem(2);
  p.r = Tensor::from_vector(std::vector<float>{1.0f});
  EXPECT_THROW(run(p, false, 1, 0), Error);
}

}  // namespace
}  // namespace recforge::mf
