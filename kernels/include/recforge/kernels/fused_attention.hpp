// Fused causal multi-head self-attention: the whole of
//   softmax(mask(Q K^T * scale)) -> dropout -> @ V
// for every (sequence, head) in one kernel, without materialising the
// (sequences, L, L) score tensors of the composed ops (batched_gemm,
// causal_mask, softmax_rows, dropout in attention.hpp / nn.hpp), which are its
// reference: the two agree to float rounding and drop the same weights.
//
// Layout: q, k, v, out are (sequences * L, d) rows, a sequence's L rows
// consecutive; head h owns columns [h dh, (h + 1) dh), dh = d / heads.
// Dropout on the attention weights is keyed as the composed op keys it: weight
// (s, i, j) of head h is kept iff philox_uniform(seed, stream + h,
// offset + (s L + i) L + j) >= p.
// The forward keeps one float per (query row, head), the log-sum-exp of its
// masked scaled scores; the backward recomputes the weights from it.
// sequence_begin (optional, (sequences) i32 on the tensors' device): sequence
// s's first position holding an item; the positions before it are padding
// (left-padded sequences: about 40% of MovieLens' attention work). Their keys
// are masked, as the future is (the SASRec paper's code masks padding keys),
// and their query rows skipped: out and lse 0, no gradient passed, which is
// their exact gradient when dout is 0 there.
// CPU: per (sequence, head) task on OpenMP threads, row blocks that stop at the
// diagonal (about half the products of the full square), cblas inside.
// CUDA: one thread block per (sequence, head), K and V held in shared memory:
// dh <= 128 and L <= 256 where the device's shared memory holds them
// (fused_causal_attention_fits; the entry points check it, ag::causal_self_attention
// falls back to the composed ops).
//   defines: fused_causal_attention, fused_causal_attention_backward,
//            fused_causal_attention_fits
#pragma once

#include "recforge/core/resources.hpp"
#include "recforge/core/tensor_view.hpp"
#include "recforge/kernels/nn.hpp"
#include "recforge/registry/kernel_registry.hpp"

namespace recforge::kernels {

struct AttentionOptions {
  std::int64_t sequences = 1, heads = 1;
  float scale = 1.0f;    // applied to Q K^T (1 / sqrt(dh) usually)
  float dropout = 0.0f;  // on the weights; 0 when not training
  DropoutKey key{};
  TensorView sequence_begin{};  // empty: no padding, every position attends to all before it
};

// out (rows, d) = attention; lse (rows, heads): per query row and head.
using FusedAttentionFn = void(const Resources&, const TensorView& q, const TensorView& k, const TensorView& v,
                              const AttentionOptions& options, TensorView out, TensorView lse);
RF_DECLARE_OP(fused_causal_attention, FusedAttentionFn);

// dq, dk, dv (rows, d) += the gradients, given the forward's out and lse.
using FusedAttentionBackwardFn = void(const Resources&, const TensorView& q, const TensorView& k,
                                      const TensorView& v, const TensorView& out, const TensorView& lse,
                                      const TensorView& dout, const AttentionOptions& options, TensorView dq,
                                      TensorView dk, TensorView dv);
RF_DECLARE_OP(fused_causal_attention_backward, FusedAttentionBackwardFn);

// Whether `res`'s device runs the kernels for sequences of `length` and heads
// of `head_dim` columns: always on the CPU; on CUDA when the operands a block
// holds fit the device's shared memory (at head width 128: L <= 210 on an
// H100, L <= 149 on an A100; at 64: up to the 256 bound).
using FusedAttentionFitsFn = bool(const Resources&, std::int64_t length, std::int64_t head_dim);
RF_DECLARE_OP(fused_causal_attention_fits, FusedAttentionFitsFn);

// Upper bounds of the CUDA kernel's shapes (registers per lane, the launch);
// shared memory may allow less.
constexpr std::int64_t kFusedAttentionMaxLength = 256;
constexpr std::int64_t kFusedAttentionMaxHeadDim = 128;

bool fused_causal_attention_fits(const Resources& res, std::int64_t length, std::int64_t head_dim);

void fused_causal_attention(const Resources& res, const TensorView& q, const TensorView& k, const TensorView& v,
                            const AttentionOptions& options, TensorView out, TensorView lse);
void fused_causal_attention_backward(const Resources& res, const TensorView& q, const TensorView& k,
                                     const TensorView& v, const TensorView& out, const TensorView& lse,
                                     const TensorView& dout, const AttentionOptions& options, TensorView dq,
                                     TensorView dk, TensorView dv);

}  // namespace recforge::kernels
