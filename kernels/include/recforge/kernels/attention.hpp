// Ops for self-attention over batches of sequences: batched products and the
// causal mask. CPU reference in cpu/attention.cpp (cblas per batch entry),
// CUDA in cuda/attention.cu (cublasSgemmStridedBatched).
//   defines: batched_gemm, causal_mask
#pragma once

#include "recforge/core/resources.hpp"
#include "recforge/core/tensor_view.hpp"
#include "recforge/kernels/gemm.hpp"
#include "recforge/registry/kernel_registry.hpp"

namespace recforge::kernels {

// For every b: C[b] = alpha op(A[b]) op(B[b]) + beta C[b], 3-d contiguous
// tensors (batch, rows, cols); options as gemm's.
using BatchedGemmFn = void(const Resources&, const TensorView& a, const TensorView& b, TensorView c,
                           const GemmOptions& options);
RF_DECLARE_OP(batched_gemm, BatchedGemmFn);

// x (batch, L, L): entries above the diagonal (key j > query i) set to
// `value` (-inf before a softmax: a position attends to itself and the past).
// `begin` (optional, (batch) i32 on x's device): batch b's first position
// holding an item; in the rows from it on, the padding keys before it are
// set to `value` too (rows before it keep the causal mask only: never read,
// and a row masked whole would turn the softmax to NaN).
using CausalMaskFn = void(const Resources&, TensorView x, const TensorView& begin, float value);
RF_DECLARE_OP(causal_mask, CausalMaskFn);

void batched_gemm(const Resources& res, const TensorView& a, const TensorView& b, TensorView c,
                  const GemmOptions& options);
void causal_mask(const Resources& res, TensorView x, float value, const TensorView& begin = {});

}  // namespace recforge::kernels
