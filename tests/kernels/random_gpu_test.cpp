// CPU-vs-CUDA parity of the Philox fills: uniform bit-identical, normal to 1 ulp-ish.
#include <gtest/gtest.h>

#include "recforge/core/tensor.hpp"
#include "recforge/kernels/random.hpp"
#include "testing/gpu.hpp"
#include "testing/tensor_testing.hpp"

namespace recforge {
namespace {

struct FillCase {
  std::int64_t n;
  std::uint64_t seed, stream;
  friend void PrintTo(const FillCase& c, std::ostream* os) {
    *os << "n=" << c.n << " seed=" << c.seed << " stream=" << c.stream;
  }
};

class FillParity : public ::testing::TestWithParam<FillCase> {};

TEST_P(FillParity, UniformIsBitIdentical) {
  RF_SKIP_WITHOUT_GPU();
  const FillCase c = GetParam();
  const Resources gpu = Resources::cuda(0);
  Tensor on_cpu = Tensor::empty({c.n}, DType::kF32);
  Tensor on_gpu = Tensor::empty({c.n}, DType::kF32, gpu.device(), gpu.stream());
  kernels::fill_uniform(Resources::cpu(), on_cpu, -1.0f, 3.0f, c.seed, c.stream);
  kernels::fill_uniform(gpu, on_gpu, -1.0f, 3.0f, c.seed, c.stream);
  gpu.synchronize();
  RF_EXPECT_TENSOR_NEAR(on_gpu, on_cpu, 0.0);
}

TEST_P(FillParity, NormalMatches) {
  RF_SKIP_WITHOUT_GPU();
  const FillCase c = GetParam();
  const Resources gpu = Resources::cuda(0);
  Tensor on_cpu = Tensor::empty({c.n}, DType::kF32);
  Tensor on_gpu = Tensor::empty({c.n}, DType::kF32, gpu.device(), gpu.stream());
  kernels::fill_normal(Resources::cpu(), on_cpu, 0.5f, 2.0f, c.seed, c.stream);
  kernels::fill_normal(gpu, on_gpu, 0.5f, 2.0f, c.seed, c.stream);
  gpu.synchronize();
  RF_EXPECT_TENSOR_NEAR(on_gpu, on_cpu, 1e-6, 1e-6);
}

INSTANTIATE_TEST_SUITE_P(Sizes, FillParity,
                         ::testing::Values(FillCase{0, 1, 1}, FillCase{1, 2, 3}, FillCase{1023, 42, 7},
                                           FillCase{1 << 20, 0xffffffffffffULL, (7ULL << 32) | 5}),
                         [](const auto& info) { return "n" + std::to_string(info.param.n); });

}  // namespace
}  // namespace recforge
