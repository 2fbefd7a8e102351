// The fused causal attention against the composition of ops it replaces
// (batched products, causal mask, row softmax, dropout) on the CPU: outputs and
// all three gradients, with and without dropout, one and several heads, and
// lengths around the kernel's row block; padding (masked keys, skipped query rows); and the errors bad
// shapes get.
#include <gtest/gtest.h>

#include "attention_runs.hpp"
#include "recforge/kernels/attention.hpp"
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

// Padding (sequence_begin, per sequence: 0, on and around the kernel's
// 32-row blocks, and past the last row): the fused kernel masks the same keys
// as the composed ops, with dropout, and its output and gradients agree.
TEST(FusedAttentionPadding, MasksTheKeysTheComposedOpsMask) {
  const Resources cpu = Resources::cpu();
  const AttentionCase c{5, 70, 16, 2, 0.2f};
  const std::vector<std::int32_t> begin = {0, 31, 32, 45, 70};
  const AttentionResult fused = run_attention(cpu, &ag::causal_self_attention, c, begin);
  const AttentionResult composed = run_attention(cpu, &ag::causal_self_attention_composed, c, begin);
  RF_EXPECT_TENSOR_NEAR(fused.out, composed.out, 1e-5, 1e-4);
  RF_EXPECT_TENSOR_NEAR(fused.dq, composed.dq, 1e-5, 1e-3);
  RF_EXPECT_TENSOR_NEAR(fused.dk, composed.dk, 1e-5, 1e-3);
  RF_EXPECT_TENSOR_NEAR(fused.dv, composed.dv, 1e-5, 1e-3);
}

// A sequence's items attend as if its padding were not there (the SASRec
// paper's code masks padding keys): the rows from sequence_begin on equal the
// attention over those rows alone, outputs and gradients, and the padding
// keys and values get no gradient.
TEST(FusedAttentionPadding, ItemsAttendAsIfThePaddingWereNotThere) {
  const Resources cpu = Resources::cpu();
  constexpr std::int64_t l = 70, d = 16, heads = 2;
  kernels::AttentionOptions options{.sequences = 1, .heads = heads, .scale = 0.25f};
  for (const std::int32_t begin : {0, 31, 32, 45, 69}) {
    const Shape shape{l, d};
    const Tensor q = uniform_tensor(shape, 1, 4.0f), k = uniform_tensor(shape, 2, 4.0f), v = uniform_tensor(shape, 3);
    Tensor dout = uniform_tensor(shape, 4);
    std::fill_n(dout.data_as<float>(), begin * d, 0.0f);
    const FusedKernelRun padded =
        run_fused_kernels(cpu, q, k, v, dout, options, Tensor::from_vector(std::vector<std::int32_t>{begin}));
    const auto items = [&](const Tensor& t) { return t.slice_rows(begin, l).contiguous(); };
    const FusedKernelRun alone = run_fused_kernels(cpu, items(q), items(k), items(v), items(dout), options);
    RF_EXPECT_TENSOR_NEAR(items(padded.out), alone.out, 1e-5, 1e-5);
    RF_EXPECT_TENSOR_NEAR(items(padded.dq), alone.dq, 1e-5, 1e-4);
    RF_EXPECT_TENSOR_NEAR(items(padded.dk), alone.dk, 1e-5, 1e-4);
    RF_EXPECT_TENSOR_NEAR(items(padded.dv), alone.dv, 1e-5, 1e-4);
    for (const Tensor* g : {&padded.out, &padded.dk, &padded.dv}) {
      for (std::int64_t e = 0; e < begin * d; ++e) ASSERT_EQ(g->data_as<float>()[e], 0.0f) << "begin " << begin;
    }
  }
  const Tensor x = uniform_tensor({10, d}, 1);
  RF_EXPECT_ERROR(run_fused_kernels(cpu, x, x, x, x, {.sequences = 5}, Tensor::from_vector(std::vector<std::int32_t>{0, 1, 2})),
                  ErrorKind::kInvalidArgument, "fused_causal_attention: sequence_begin [3] is not one row per sequence (5)");
}

// The composed ops' mask, a known answer: L = 4, the first item at position 2.
// Rows 2 and 3 see keys 2.. up to themselves; rows 0 and 1 (padding, never
// read) keep the causal mask, so their softmax has keys.
TEST(CausalMask, MasksThePaddingKeysOfTheItemRows) {
  const Resources cpu = Resources::cpu();
  Tensor x = Tensor::zeros({1, 4, 4}, DType::kF32);
  kernels::causal_mask(cpu, x, 9.0f, Tensor::from_vector(std::vector<std::int32_t>{2}));
  EXPECT_EQ(x.to_vector<float>(), (std::vector<float>{0, 9, 9, 9,  //
                                                      0, 0, 9, 9,  //
                                                      9, 9, 0, 9,  //
                                                      9, 9, 0, 0}));
  RF_EXPECT_ERROR(kernels::causal_mask(cpu, x, 9.0f, Tensor::from_vector(std::vector<std::int32_t>{2, 3})),
                  ErrorKind::kInvalidArgument, "causal_mask: begin [2] is not one per batch entry (1)");
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
