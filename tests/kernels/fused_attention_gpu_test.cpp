// CUDA fused causal attention against the CPU: the same outputs and gradients
// as the CPU fused kernel and as the composed ops on the CPU (which drop the
// same weights), for SASRec's shape (L 200, d 50) and others, the fallback to
// the composed ops and the clear error for a shape the kernel's shared memory
// cannot hold.
#include <gtest/gtest.h>

#include "attention_runs.hpp"
#include "recforge/kernels/fused_attention.hpp"
#include "testing/error_testing.hpp"
#include "testing/gpu.hpp"
#include "testing/tensor_testing.hpp"

namespace recforge::testing {
namespace {

class FusedAttentionGpu : public ::testing::TestWithParam<AttentionCase> {
 protected:
  void SetUp() override { RF_SKIP_WITHOUT_GPU(); }
};

TEST_P(FusedAttentionGpu, MatchesTheCpu) {
  const AttentionCase c = GetParam();
  const Resources cpu = Resources::cpu(), gpu = Resources::cuda(0);
  const AttentionResult on_gpu = run_attention(gpu, &ag::causal_self_attention, c);
  for (const AttentionFn reference : {&ag::causal_self_attention, &ag::causal_self_attention_composed}) {
    const AttentionResult on_cpu = run_attention(cpu, reference, c);
    RF_EXPECT_TENSOR_NEAR(on_gpu.out, on_cpu.out, 1e-5, 1e-4);
    RF_EXPECT_TENSOR_NEAR(on_gpu.dq, on_cpu.dq, 1e-5, 1e-3);
    RF_EXPECT_TENSOR_NEAR(on_gpu.dk, on_cpu.dk, 1e-5, 1e-3);
    RF_EXPECT_TENSOR_NEAR(on_gpu.dv, on_cpu.dv, 1e-5, 1e-3);
  }
}

// The last two do not fit the kernel's shared memory (L 256 at head width 128
// needs 276 KB; L 300 is over the bound): ag::causal_self_attention takes the
// composed ops on the GPU instead, with the same result.
INSTANTIATE_TEST_SUITE_P(Shapes, FusedAttentionGpu,
                         ::testing::Values(AttentionCase{1, 1, 4, 1, 0.0f}, AttentionCase{3, 5, 6, 2, 0.0f},
                                           AttentionCase{2, 33, 8, 2, 0.3f}, AttentionCase{4, 200, 50, 1, 0.2f},
                                           AttentionCase{2, 64, 128, 1, 0.1f}, AttentionCase{2, 100, 256, 2, 0.0f},
                                           AttentionCase{1, 256, 128, 1, 0.1f}, AttentionCase{1, 300, 8, 1, 0.0f}));

// Skipped query rows on the GPU: the CPU's outputs and gradients (rows read),
// zeros where skipped, for begins at 0, around a warp's rows and past the end.
TEST(FusedAttentionGpuQueryBegin, MatchesTheCpu) {
  RF_SKIP_WITHOUT_GPU();
  const Resources cpu = Resources::cpu(), gpu = Resources::cuda(0);
  constexpr std::int64_t sequences = 4, l = 200, d = 50;
  const std::vector<std::int32_t> begin = {0, 7, 133, 200};
  const Shape shape{sequences * l, d};
  const Tensor q = uniform_tensor(shape, 1, 4.0f), k = uniform_tensor(shape, 2, 4.0f), v = uniform_tensor(shape, 3);
  Tensor dout = uniform_tensor(shape, 4);
  for (std::int64_t s = 0; s < sequences; ++s) {
    std::fill_n(dout.data_as<float>() + s * l * d, begin[static_cast<std::size_t>(s)] * d, 0.0f);
  }
  const kernels::AttentionOptions options{.sequences = sequences, .heads = 1, .scale = 0.14f, .dropout = 0.2f,
                                          .key = {7, 11, 13}};
  const Tensor sequence_begin = Tensor::from_vector(begin);
  const FusedKernelRun on_cpu = run_fused_kernels(cpu, q, k, v, dout, options, sequence_begin);
  const FusedKernelRun on_gpu = run_fused_kernels(gpu, q, k, v, dout, options, sequence_begin);
  RF_EXPECT_TENSOR_NEAR(on_gpu.out, on_cpu.out, 1e-5, 1e-4);
  RF_EXPECT_TENSOR_NEAR(on_gpu.lse, on_cpu.lse, 1e-5, 1e-5);
  RF_EXPECT_TENSOR_NEAR(on_gpu.dq, on_cpu.dq, 1e-5, 1e-3);
  RF_EXPECT_TENSOR_NEAR(on_gpu.dk, on_cpu.dk, 1e-5, 1e-3);
  RF_EXPECT_TENSOR_NEAR(on_gpu.dv, on_cpu.dv, 1e-5, 1e-3);
  for (std::int64_t i = 0; i < begin[2] * d; ++i) ASSERT_EQ(on_gpu.out.data_as<float>()[2 * l * d + i], 0.0f);
}

// Known answers of the shared-memory arithmetic on the build's targets: A100
// (163 KiB per block) and H100/H200 (227 KiB) agree on all of these.
TEST(FusedAttentionGpuErrors, FitsTheDevicesSharedMemory) {
  RF_SKIP_WITHOUT_GPU();
  const Resources gpu = Resources::cuda(0);
  EXPECT_TRUE(kernels::fused_causal_attention_fits(gpu, 200, 50));
  EXPECT_TRUE(kernels::fused_causal_attention_fits(gpu, 256, 64));
  EXPECT_TRUE(kernels::fused_causal_attention_fits(gpu, 149, 128));
  EXPECT_FALSE(kernels::fused_causal_attention_fits(gpu, 256, 128));
  EXPECT_FALSE(kernels::fused_causal_attention_fits(gpu, 257, 8));
  EXPECT_FALSE(kernels::fused_causal_attention_fits(gpu, 8, 129));
  EXPECT_TRUE(kernels::fused_causal_attention_fits(Resources::cpu(), 1000, 512));
}

TEST(FusedAttentionGpuErrors, TooLongForSharedMemory) {
  RF_SKIP_WITHOUT_GPU();
  const Resources gpu = Resources::cuda(0);
  const Tensor x = Tensor::zeros({300, 8}, DType::kF32, gpu.device(), gpu.stream());
  const Tensor lse = Tensor::zeros({300}, DType::kF32, gpu.device(), gpu.stream());
  Tensor out = Tensor::zeros({300, 8}, DType::kF32, gpu.device(), gpu.stream());
  RF_EXPECT_ERROR(kernels::fused_causal_attention(gpu, x, x, x, {.sequences = 1}, out, lse),
                  ErrorKind::kInvalidArgument, "L 300 and head width 8 do not fit the cuda:0 kernel");
}

}  // namespace
}  // namespace recforge::testing
