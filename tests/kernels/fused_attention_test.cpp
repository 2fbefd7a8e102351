// The fused causal attention against the composition of ops it replaces
// (batched products, causal mask, row softmax, dropout) on the CPU: outputs and
// all three gradients, with and without dropout, one and several heads, and
// lengths around the kernel's row block; skipped query rows; and the errors bad
// shapes get.
#include <gtest/gtest.h>

#include "attention_runs.hpp"
#include "recforge/kernels/fused_attention.hpp"
#include "testing/error_testing.hpp"
#include "testing/tensor_testing.hpp"

namespace recforge::testing {
namespace {

class FusedAttention : public ::testing::TestWithParam<AttentionCase> {};

TEST_P(FusedAttention, MatchesTheComposedOps) {
  const Resources cpu = Resources::cpu();
  const AttentionCase c = GetParam();
  const AttentionResult fused = run_attention(cpu, &ag::causal_self_attention, c);
  const AttentionResult composed = run_attention(cpu, &ag::causal_self_attention_composed, c);
  RF_EXPECT_TENSOR_NEAR(fused.out, composed.out, 1e-5, 1e-4);
  RF_EXPECT_TENSOR_NEAR(fused.dq, composed.dq, 1e-5, 1e-3);
  RF_EXPECT_TENSOR_NEAR(fused.dk, composed.dk, 1e-5, 1e-3);
  RF_EXPECT_TENSOR_NEAR(fused.dv, composed.dv, 1e-5, 1e-3);
}

INSTANTIATE_TEST_SUITE_P(Shapes, FusedAttention,
                         ::testing::Values(AttentionCase{1, 1, 4, 1, 0.0f}, AttentionCase{3, 5, 6, 2, 0.0f},
                                           AttentionCase{2, 32, 8, 1, 0.3f}, AttentionCase{2, 33, 8, 2, 0.3f},
                                           AttentionCase{4, 70, 50, 1, 0.2f}, AttentionCase{2, 200, 16, 4, 0.5f}));

// Dropout really drops weights: the same inputs with p = 0 and p = 0.3 differ,
// and the composed reference drops the same ones (the test above).
TEST(FusedAttentionDropout, ChangesTheOutput) {
  const Resources cpu = Resources::cpu();
  const AttentionResult kept = run_attention(cpu, &ag::causal_self_attention, {2, 33, 8, 2, 0.0f});
  const AttentionResult dropped = run_attention(cpu, &ag::causal_self_attention, {2, 33, 8, 2, 0.3f});
  EXPECT_FALSE(tensors_near(kept.out, dropped.out, 1e-3));
}

// Skipped query rows (query_begin) change nothing else, bit for bit: the rows
// read get the outputs and log-sum-exps of the full run, the skipped ones 0,
// and with a zero output gradient on the skipped rows (padding, as the caller
// promises) all three input gradients equal the full run's. Begins at 0, on
// and around the kernel's 32-row blocks, and past the last row.
TEST(FusedAttentionQueryBegin, SkippedRowsChangeNothingElse) {
  const Resources cpu = Resources::cpu();
  constexpr std::int64_t sequences = 5, l = 70, d = 16, heads = 2;
  const std::vector<std::int32_t> begin = {0, 31, 32, 45, 70};
  const Shape shape{sequences * l, d};
  const Tensor q = uniform_tensor(shape, 1, 4.0f), k = uniform_tensor(shape, 2, 4.0f), v = uniform_tensor(shape, 3);
  Tensor dout = uniform_tensor(shape, 4);
  for (std::int64_t s = 0; s < sequences; ++s) {
    std::fill_n(dout.data_as<float>() + s * l * d, begin[static_cast<std::size_t>(s)] * d, 0.0f);
  }
  const Tensor query_begin = Tensor::from_vector(begin);
  kernels::AttentionOptions options{.sequences = sequences, .heads = heads, .scale = 0.25f, .dropout = 0.2f,
                                    .key = {7, 11, 13}};
  const FusedKernelRun full = run_fused_kernels(cpu, q, k, v, dout, options);
  const FusedKernelRun skipped = run_fused_kernels(cpu, q, k, v, dout, options, query_begin);
  for (std::int64_t s = 0; s < sequences; ++s) {
    for (std::int64_t i = 0; i < l; ++i) {
      const bool read = i >= begin[static_cast<std::size_t>(s)];
      const std::int64_t row = s * l + i;
      for (std::int64_t c = 0; c < d; ++c) {
        const float expected = read ? full.out.data_as<float>()[row * d + c] : 0.0f;
        ASSERT_EQ(skipped.out.data_as<float>()[row * d + c], expected) << "sequence " << s << " row " << i;
      }
      for (std::int64_t h = 0; h < heads; ++h) {
        ASSERT_EQ(skipped.lse.data_as<float>()[row * heads + h], read ? full.lse.data_as<float>()[row * heads + h] : 0.0f);
      }
    }
  }
  RF_EXPECT_TENSOR_NEAR(skipped.dq, full.dq, 0.0);
  RF_EXPECT_TENSOR_NEAR(skipped.dk, full.dk, 0.0);
  RF_EXPECT_TENSOR_NEAR(skipped.dv, full.dv, 0.0);
  EXPECT_FALSE(tensors_near(full.dk, Tensor::zeros(shape, DType::kF32), 1e-3));  // not a comparison of zeros
  RF_EXPECT_ERROR(run_fused_kernels(cpu, q, k, v, dout, options, Tensor::from_vector(std::vector<std::int32_t>{0, 1, 2})),
                  ErrorKind::kInvalidArgument, "fused_causal_attention: query_begin [3] is not one row per sequence (5)");
}

TEST(FusedAttentionErrors, NameTheShapeAtFault) {
  const Resources cpu = Resources::cpu();
  const Tensor x = Tensor::zeros({6, 4}, DType::kF32), lse = Tensor::zeros({6}, DType::kF32);
  Tensor out = Tensor::zeros({6, 4}, DType::kF32);
  RF_EXPECT_ERROR(kernels::fused_causal_attention(cpu, x, x, x, {.sequences = 4}, out, lse),
                  ErrorKind::kInvalidArgument, "fused_causal_attention: 6 rows are not 4 sequences");
  RF_EXPECT_ERROR(kernels::fused_causal_attention(cpu, x, x, x, {.sequences = 2, .heads = 3}, out, lse),
                  ErrorKind::kInvalidArgument, "fused_causal_attention: 4 columns do not split into 3 heads");
  RF_EXPECT_ERROR(kernels::fused_causal_attention(cpu, x, x, x, {.sequences = 2, .heads = 2}, out, lse),
                  ErrorKind::kInvalidArgument, "lse [6] is not one value per row and head (6 x 2)");
  RF_EXPECT_ERROR(kernels::fused_causal_attention(cpu, x, Tensor::zeros({6, 2}, DType::kF32), x, {}, out, lse),
                  ErrorKind::kInvalidArgument, "fused_causal_attention: shapes [6, 4] and [6, 2] differ");
  RF_EXPECT_ERROR(kernels::fused_causal_attention(cpu, x, x, x, {.sequences = 2, .dropout = 1.0f}, out, lse),
                  ErrorKind::kInvalidArgument, "dropout 1 is not in [0, 1)");
}

}  // namespace
}  // namespace recforge::testing
