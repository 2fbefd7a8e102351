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
  if (o.sequence_begin.data != nullptr) {
    check_dtype(op, o.sequence_begin, DType::kI32);
    check_same_device(op, q, o.sequence_begin);
    RF_CHECK(o.sequence_begin.numel() == o.sequences, op, ": sequence_begin ", o.sequence_begin.shape.str(),
             " is not one row per sequence (", o.sequences, ")");
  }
}

// The device's kernel must hold the shape (CUDA: shared memory).
void check_fits(const char* op, const Resources& res, const TensorView& q, const AttentionOptions& o) {
  const std::int64_t l = q.shape[0] / o.sequences, dh = q.shape[1] / o.heads;
  RF_CHECK(fused_causal_attention_fits(res, l, dh), op, ": L ", l, " and head width ", dh,
           " do not fit the ", q.device.str(), " kernel (CUDA: at most L ", kFusedAttentionMaxLength,
           ", head width ", kFusedAttentionMaxHeadDim, ", and the device's shared memory); use the composed attention");
}

}  // namespace

bool fused_causal_attention_fits(const Resources& res, std::int64_t length, std::int64_t head_dim) {
  return dispatch<fused_causal_attention_fits_op>(res.device())(res, length, head_dim);
}

void fused_causal_attention(const Resources& res, const TensorView& q, const TensorView& k, const TensorView& v,
                            const AttentionOptions& options, TensorView out, TensorView lse) {
  check_rows("fused_causal_attention", q, {&q, &k, &v, &out});
  check_layout("fused_causal_attention", q, lse, options);
  if (q.numel() == 0) return;
  check_fits("fused_causal_attention", res, q, options);
  dispatch<fused_causal_attention_op>(q.device)(res, q, k, v, options, out, lse);
}

void fused_causal_attention_backward(const Resources& res, const TensorView& q, const TensorView& k,
                                     const TensorView& v, const TensorView& out, const TensorView& lse,
                                     const TensorView& dout, const AttentionOptions& options, TensorView dq,
                                     TensorView dk, TensorView dv) {
  check_rows("fused_causal_attention_backward", q, {&q, &k, &v, &out, &dout, &dq, &dk, &dv});
  check_layout("fused_causal_attention_backward", q, lse, options);
  if (q.numel() == 0) return;
  check_fits("fused_causal_attention_backward", res, q, options);
  dispatch<fused_causal_attention_backward_op>(q.device)(res, q, k, v, out, lse, dout, options, dq, dk, dv);
}

}  // namespace recforge::kernels
