// Checked entry points of fused_attention.hpp: shapes, dtypes and devices, and
// the CUDA kernel's shared-memory limits, then dispatch by device.
#include "recforge/kernels/fused_attention.hpp"

namespace recforge::kernels {
namespace {

void check_rows(const char* op, const TensorView& like, std::initializer_list<const TensorView*> tensors) {
  for (const TensorView* t : tensors) {
    check_dtype(op, *t, DType::kF32);
    check_contiguous(op, *t);
    check_same_device(op, like, *t);
    RF_CHECK(t->shape == like.shape, op, ": shapes ", like.shape.str(), " and ", t->shape.str(), " differ");
  }
}

void check_layout(const char* op, const TensorView& q, const TensorView& lse, const AttentionOptions& o) {
  RF_CHECK(q.ndim() == 2, op, ": needs (sequences * L, d) rows, got ", q.shape.str());
  const std::int64_t rows = q.shape[0], d = q.shape[1];
  RF_CHECK(o.sequences > 0 && rows % o.sequences == 0, op, ": ", rows, " rows are not ", o.sequences, " sequences");
  RF_CHECK(o.heads > 0 && d % o.heads == 0, op, ": ", d, " columns do not split into ", o.heads, " heads");
  RF_CHECK(o.dropout >= 0.0f && o.dropout < 1.0f, op, ": dropout ", o.dropout, " is not in [0, 1)");
  check_dtype(op, lse, DType::kF32);
  check_contiguous(op, lse);
  check_same_device(op, q, lse);
  RF_CHECK(lse.numel() == rows * o.heads, op, ": lse ", lse.shape.str(), " is not one value per row and head (",
           rows, " x ", o.heads, ")");
  if (q.device.is_cuda()) {
    const std::int64_t l = rows / o.sequences, dh = d / o.heads;
    RF_CHECK(l <= kFusedAttentionMaxLength && dh <= kFusedAttentionMaxHeadDim, op, ": the CUDA kernel holds L <= ",
             kFusedAttentionMaxLength, " and head width <= ", kFusedAttentionMaxHeadDim, ", got L ", l,
             " and head width ", dh, " (use the composed attention)");
  }
}

}  // namespace

void fused_causal_attention(const Resources& res, const TensorView& q, const TensorView& k, const TensorView& v,
                            const AttentionOptions& options, TensorView out, TensorView lse) {
  check_rows("fused_causal_attention", q, {&q, &k, &v, &out});
  check_layout("fused_causal_attention", q, lse, options);
  if (q.numel() == 0) return;
  dispatch<fused_causal_attention_op>(q.device)(res, q, k, v, options, out, lse);
}

void fused_causal_attention_backward(const Resources& res, const TensorView& q, const TensorView& k,
                                     const TensorView& v, const TensorView& out, const TensorView& lse,
                                     const TensorView& dout, const AttentionOptions& options, TensorView dq,
                                     TensorView dk, TensorView dv) {
  check_rows("fused_causal_attention_backward", q, {&q, &k, &v, &out, &dout, &dq, &dk, &dv});
  check_layout("fused_causal_attention_backward", q, lse, options);
  if (q.numel() == 0) return;
  dispatch<fused_causal_attention_backward_op>(q.device)(res, q, k, v, out, lse, dout, options, dq, dk, dv);
}

}  // namespace recforge::kernels
