// Products with an empty inner dimension (K = 0) are C = beta * C on every
// path, whatever the BLAS library does with them: with beta 0 the old C is
// never read (it may be garbage: a rank's empty last batch stores its weight
// gradients this way).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "recforge/core/tensor.hpp"
#include "recforge/kernels/attention.hpp"
#include "recforge/kernels/gemm.hpp"

namespace recforge::kernels {
namespace {

Tensor filled(const Shape& shape, float value) {
  Tensor t = Tensor::empty(shape, DType::kF32);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data_as<float>()[i] = value;
  return t;
}

TEST(EmptyProduct, GemmStoresBetaTimesC) {
  const Resources cpu = Resources::cpu();
  const Tensor a = Tensor::empty({3, 0}, DType::kF32), b = Tensor::empty({0, 4}, DType::kF32);
  Tensor garbage = filled({3, 4}, std::numeric_limits<float>::quiet_NaN());
  gemm(cpu, a, b, garbage);
  EXPECT_EQ(garbage.to_vector<float>(), std::vector<float>(12, 0.0f));
  Tensor halved = filled({3, 4}, 2.0f);
  gemm(cpu, a, b, halved, {.alpha = 3.0f, .beta = 0.5f});
  EXPECT_EQ(halved.to_vector<float>(), std::vector<float>(12, 1.0f));
  // The weight gradient of a batch without rows: x^T dy with x (0, 3), dy (0, 4).
  Tensor dw = filled({3, 4}, std::numeric_limits<float>::quiet_NaN());
  gemm(cpu, Tensor::empty({0, 3}, DType::kF32), Tensor::empty({0, 4}, DType::kF32), dw, {.trans_a = true});
  EXPECT_EQ(dw.to_vector<float>(), std::vector<float>(12, 0.0f));
}

TEST(EmptyProduct, BatchedGemmStoresBetaTimesC) {
  const Resources cpu = Resources::cpu();
  const Tensor a = Tensor::empty({2, 3, 0}, DType::kF32), b = Tensor::empty({2, 0, 5}, DType::kF32);
  Tensor garbage = filled({2, 3, 5}, std::numeric_limits<float>::quiet_NaN());
  batched_gemm(cpu, a, b, garbage, {});
  EXPECT_EQ(garbage.to_vector<float>(), std::vector<float>(30, 0.0f));
  Tensor kept = filled({2, 3, 5}, 7.0f);
  batched_gemm(cpu, a, b, kept, {.beta = 1.0f});
  EXPECT_EQ(kept.to_vector<float>(), std::vector<float>(30, 7.0f));
}

}  // namespace
}  // namespace recforge::kernels
