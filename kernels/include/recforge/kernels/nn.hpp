// Neural-network ops: the forward and backward kernels under recforge's
// autograd (framework/include/recforge/autograd). CPU reference in cpu/nn.cpp,
// CUDA in cuda/nn.cu; parity tests in tests/kernels/nn_gpu_test.cpp.
//
// Conventions
//   - f32, contiguous, row-major; "(n, d)" is a 2-d tensor, "(n)" 1-d.
//   - Forward kernels write their outputs (Contract: =).
//   - Backward kernels ADD into the input gradients (Contract: +=), so an input
//     used twice accumulates both contributions; the autograd zeroes a new
//     buffer once, unless the first contribution comes from an op that can
//     store it (GEMM with beta 0, a copy, scale or binary, and the kernels
//     with an `accumulate` flag: ag::Graph::grad_slot).
//   - Scalars travel as 1-element device tensors (no host sync inside a step).
#pragma once

#include <cstdint>

#include "recforge/core/resources.hpp"
#include "recforge/core/tensor_view.hpp"
#include "recforge/registry/kernel_registry.hpp"

namespace recforge::kernels {

// ---- elementwise ---------------------------------------------------------

enum class Activation : std::int32_t {
  kRelu,        // max(x, 0); derivative 0 at x = 0
  kGelu,        // x * Phi(x), exact (erf) form, as PyTorch's default
  kSigmoid,     // 1 / (1 + exp(-x)), computed without overflow
  kLogSigmoid,  // log sigmoid(x) = -softplus(-x), stable for large |x|
  kTanh,
};

// y = f(x). x, y same shape.
using ActivationForwardFn = void(const Resources&, Activation, const TensorView& x, TensorView y);
RF_DECLARE_OP(activation_forward, ActivationForwardFn);
// dx += dy * f'(x) (dx = ... when !accumulate); y = f(x) is given (sigmoid and tanh use it).
using ActivationBackwardFn = void(const Resources&, Activation, const TensorView& x, const TensorView& y,
                                  const TensorView& dy, TensorView dx, bool accumulate);
RF_DECLARE_OP(activation_backward, ActivationBackwardFn);

enum class Binary : std::int32_t { kAdd, kSub, kMul };
// y = a op b, all the same shape.
using BinaryFn = void(const Resources&, Binary, const TensorView& a, const TensorView& b, TensorView y);
RF_DECLARE_OP(binary, BinaryFn);

// y += alpha * x (same shape).
using AxpyFn = void(const Resources&, float alpha, const TensorView& x, TensorView y);
RF_DECLARE_OP(axpy, AxpyFn);

// y += a * b (same shape): the gradient of a product.
using MulAccumulateFn = void(const Resources&, const TensorView& a, const TensorView& b, TensorView y);
RF_DECLARE_OP(mul_accumulate, MulAccumulateFn);

// y = alpha * x (same shape).
using ScaleFn = void(const Resources&, float alpha, const TensorView& x, TensorView y);
RF_DECLARE_OP(scale, ScaleFn);

// ---- rows and columns ----------------------------------------------------

// y (n, d) = x (n, d) + b (d) on every row.
using BiasAddFn = void(const Resources&, const TensorView& x, const TensorView& b, TensorView y);
RF_DECLARE_OP(bias_add, BiasAddFn);

// db (d) += sum over rows of dy (n, d): the bias gradient. Rows are summed in
// order (deterministic).
using SumRowsAccumulateFn = void(const Resources&, const TensorView& dy, TensorView db);
RF_DECLARE_OP(sum_rows_accumulate, SumRowsAccumulateFn);

// y (n) = sum_c a[r, c] * b[r, c]: row-wise dot products of (n, d) tensors.
using RowwiseDotFn = void(const Resources&, const TensorView& a, const TensorView& b, TensorView y);
RF_DECLARE_OP(rowwise_dot, RowwiseDotFn);

// y (n, d) += x (n, d) * s (n) per row: the gradient of a row-wise dot or a
// per-row scale.
using ScaleRowsAccumulateFn = void(const Resources&, const TensorView& x, const TensorView& s, TensorView y);
RF_DECLARE_OP(scale_rows_accumulate, ScaleRowsAccumulateFn);

// dst[:, dst_col .. dst_col + width) (=, or += when accumulate) src[:, src_col .. src_col + width).
// src (n, ds), dst (n, dd): concatenation and its gradient.
using CopyColumnsFn = void(const Resources&, const TensorView& src, std::int64_t src_col, TensorView dst,
                           std::int64_t dst_col, std::int64_t width, bool accumulate);
RF_DECLARE_OP(copy_columns, CopyColumnsFn);

// ---- reductions ----------------------------------------------------------

// out (1) = sum of x (all elements), accumulated in double, in index order on
// the CPU and by a fixed tree on CUDA.
using SumAllFn = void(const Resources&, const TensorView& x, TensorView out);
RF_DECLARE_OP(sum_all, SumAllFn);

// dx += alpha * dy[0] on every element (dy has 1 element): the gradient of a sum.
using BroadcastAccumulateFn = void(const Resources&, const TensorView& dy, float alpha, TensorView dx);
RF_DECLARE_OP(broadcast_accumulate, BroadcastAccumulateFn);

// ---- losses --------------------------------------------------------------

// loss (n) = max(x, 0) - x * t + log(1 + exp(-|x|)) for logits x (n), targets t (n) in [0, 1].
using BceWithLogitsFn = void(const Resources&, const TensorView& logits, const TensorView& targets, TensorView loss);
RF_DECLARE_OP(bce_with_logits, BceWithLogitsFn);
// dlogits += dloss * (sigmoid(x) - t).
using BceWithLogitsBackwardFn = void(const Resources&, const TensorView& logits, const TensorView& targets,
                                     const TensorView& dloss, TensorView dlogits);
RF_DECLARE_OP(bce_with_logits_backward, BceWithLogitsBackwardFn);

// Row-wise softmax cross-entropy: logits (n, c), target (n) i32 in [0, c):
// probs (n, c) = softmax(logits[r]) (kept for the backward), loss (n) = -log probs[r, target[r]].
using SoftmaxCrossEntropyFn = void(const Resources&, const TensorView& logits, const TensorView& target,
                                   TensorView probs, TensorView loss);
RF_DECLARE_OP(softmax_cross_entropy, SoftmaxCrossEntropyFn);
// dlogits (n, c) += dloss[r] * (probs[r] - onehot(target[r])).
using SoftmaxCrossEntropyBackwardFn = void(const Resources&, const TensorView& probs, const TensorView& target,
                                           const TensorView& dloss, TensorView dlogits);
RF_DECLARE_OP(softmax_cross_entropy_backward, SoftmaxCrossEntropyBackwardFn);

// ---- normalisation -------------------------------------------------------

// y (n, c) = softmax of each row of x (max-subtracted).
using SoftmaxRowsFn = void(const Resources&, const TensorView& x, TensorView y);
RF_DECLARE_OP(softmax_rows, SoftmaxRowsFn);
// dx += y * (dy - sum_c(dy * y)) per row.
using SoftmaxRowsBackwardFn = void(const Resources&, const TensorView& y, const TensorView& dy, TensorView dx);
RF_DECLARE_OP(softmax_rows_backward, SoftmaxRowsBackwardFn);

// Layer norm over the last dimension: x (n, d), gamma (d), beta (d):
// mean (n), rstd (n) = 1 / sqrt(var + eps) (biased variance), y = (x - mean) * rstd * gamma + beta.
using LayerNormFn = void(const Resources&, const TensorView& x, const TensorView& gamma, const TensorView& beta,
                         float eps, TensorView y, TensorView mean, TensorView rstd);
RF_DECLARE_OP(layer_norm, LayerNormFn);
// dx += ..., dgamma += sum_r dy * xhat, dbeta += sum_r dy (rows summed in a fixed order:
// blocks of 256 rows, so the result does not depend on threads or launch shape).
using LayerNormBackwardFn = void(const Resources&, const TensorView& x, const TensorView& gamma,
                                 const TensorView& mean, const TensorView& rstd, const TensorView& dy, TensorView dx,
                                 TensorView dgamma, TensorView dbeta);
RF_DECLARE_OP(layer_norm_backward, LayerNormBackwardFn);

// y (n, d) = x / max(||x_r||, eps) per row; norms (n) = max(||x_r||, eps).
using L2NormalizeRowsFn = void(const Resources&, const TensorView& x, float eps, TensorView y, TensorView norms);
RF_DECLARE_OP(l2_normalize_rows, L2NormalizeRowsFn);
// dx += (dy - y * (y . dy)) / norm per row (rows whose norm was clamped to eps: dx += dy / eps).
using L2NormalizeRowsBackwardFn = void(const Resources&, const TensorView& x, const TensorView& y,
                                       const TensorView& norms, float eps, const TensorView& dy, TensorView dx);
RF_DECLARE_OP(l2_normalize_rows_backward, L2NormalizeRowsBackwardFn);

// ---- dropout -------------------------------------------------------------

// Inverted dropout keyed by Philox: element i is kept iff
// philox_uniform(seed, stream, offset + i) >= p; kept values are scaled by 1 / (1 - p).
// CPU and CUDA drop the same elements. The forward may also write the mask
// (u8, 1 = kept) so that the backward reads it instead of recomputing it from
// the key (a byte per element against a Philox evaluation); an empty mask view
// (data == nullptr) means: not stored / recompute.
struct DropoutKey {
  std::uint64_t seed = 0, stream = 0, offset = 0;
};
using DropoutFn = void(const Resources&, const TensorView& x, float p, const DropoutKey& key, TensorView y,
                       TensorView mask);
RF_DECLARE_OP(dropout, DropoutFn);
// dx += dy * mask / (1 - p) (dx = ... when !accumulate).
using DropoutBackwardFn = void(const Resources&, const TensorView& dy, float p, const DropoutKey& key,
                               const TensorView& mask, TensorView dx, bool accumulate);
RF_DECLARE_OP(dropout_backward, DropoutBackwardFn);

// ---- checked entry points ------------------------------------------------

void activation_forward(const Resources& res, Activation f, const TensorView& x, TensorView y);
void activation_backward(const Resources& res, Activation f, const TensorView& x, const TensorView& y,
                         const TensorView& dy, TensorView dx, bool accumulate = true);
void binary(const Resources& res, Binary op, const TensorView& a, const TensorView& b, TensorView y);
void axpy(const Resources& res, float alpha, const TensorView& x, TensorView y);
void mul_accumulate(const Resources& res, const TensorView& a, const TensorView& b, TensorView y);
void scale(const Resources& res, float alpha, const TensorView& x, TensorView y);
void bias_add(const Resources& res, const TensorView& x, const TensorView& b, TensorView y);
void sum_rows_accumulate(const Resources& res, const TensorView& dy, TensorView db);
void rowwise_dot(const Resources& res, const TensorView& a, const TensorView& b, TensorView y);
void scale_rows_accumulate(const Resources& res, const TensorView& x, const TensorView& s, TensorView y);
void copy_columns(const Resources& res, const TensorView& src, std::int64_t src_col, TensorView dst,
                  std::int64_t dst_col, std::int64_t width, bool accumulate);
void sum_all(const Resources& res, const TensorView& x, TensorView out);
void broadcast_accumulate(const Resources& res, const TensorView& dy, float alpha, TensorView dx);
void bce_with_logits(const Resources& res, const TensorView& logits, const TensorView& targets, TensorView loss);
void bce_with_logits_backward(const Resources& res, const TensorView& logits, const TensorView& targets,
                              const TensorView& dloss, TensorView dlogits);
void softmax_cross_entropy(const Resources& res, const TensorView& logits, const TensorView& target, TensorView probs,
                           TensorView loss);
void softmax_cross_entropy_backward(const Resources& res, const TensorView& probs, const TensorView& target,
                                    const TensorView& dloss, TensorView dlogits);
void softmax_rows(const Resources& res, const TensorView& x, TensorView y);
void softmax_rows_backward(const Resources& res, const TensorView& y, const TensorView& dy, TensorView dx);
void layer_norm(const Resources& res, const TensorView& x, const TensorView& gamma, const TensorView& beta, float eps,
                TensorView y, TensorView mean, TensorView rstd);
void layer_norm_backward(const Resources& res, const TensorView& x, const TensorView& gamma, const TensorView& mean,
                         const TensorView& rstd, const TensorView& dy, TensorView dx, TensorView dgamma,
                         TensorView dbeta);
void l2_normalize_rows(const Resources& res, const TensorView& x, float eps, TensorView y, TensorView norms);
void l2_normalize_rows_backward(const Resources& res, const TensorView& x, const TensorView& y,
                                const TensorView& norms, float eps, const TensorView& dy, TensorView dx);
void dropout(const Resources& res, const TensorView& x, float p, const DropoutKey& key, TensorView y,
             TensorView mask = {});
void dropout_backward(const Resources& res, const TensorView& dy, float p, const DropoutKey& key, TensorView dx,
                      const TensorView& mask = {}, bool accumulate = true);

}  // namespace recforge::kernels
