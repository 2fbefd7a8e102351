// Optimizer updates for dense parameters and for touched rows of embeddings.
//   defines: sgd_dense, sgd_rows, adam_dense, adam_rows, adagrad_dense, adagrad_rows
// SGD with momentum and decoupled-from-nothing L2 (weight_decay added to the gradient):
//   g' = g + wd * w;  v = momentum * v + g';  w -= lr * (momentum > 0 ? v : g')
#pragma once

#include "recforge/core/resources.hpp"
#include "recforge/core/tensor_view.hpp"
#include "recforge/registry/kernel_registry.hpp"

namespace recforge::kernels {

struct SgdOptions {
  float lr = 0.01f;
  float momentum = 0.0f;
  float weight_decay = 0.0f;
};

// weights (N), grad (N), velocity (N; untouched when momentum == 0). Contract: = (in place).
using SgdDenseFn = void(const Resources&, TensorView weights, const TensorView& grad, TensorView velocity,
                        const SgdOptions& options);
RF_DECLARE_OP(sgd_dense, SgdDenseFn);

// table (R, D), velocity (R, D): rows ids (m, unique) updated with grad rows (m, D); others untouched (lazy).
using SgdRowsFn = void(const Resources&, TensorView table, TensorView velocity, const TensorView& ids,
                       const TensorView& grad_rows, const SgdOptions& options);
RF_DECLARE_OP(sgd_rows, SgdRowsFn);

inline void sgd_dense(const Resources& res, TensorView weights, const TensorView& grad, TensorView velocity,
                      const SgdOptions& options) {
  check_dtype("sgd_dense", weights, DType::kF32);
  RF_CHECK(grad.numel() == weights.numel() && velocity.numel() == weights.numel(), "sgd_dense: sizes differ");
  check_same_device("sgd_dense", weights, grad);
  dispatch<sgd_dense_op>(weights.device)(res, weights, grad, velocity, options);
}

inline void sgd_rows(const Resources& res, TensorView table, TensorView velocity, const TensorView& ids,
                     const TensorView& grad_rows, const SgdOptions& options) {
  check_dtype("sgd_rows", table, DType::kF32);
  check_dtype("sgd_rows ids", ids, DType::kI32);
  RF_CHECK(table.ndim() == 2 && grad_rows.ndim() == 2 && grad_rows.shape[1] == table.shape[1] &&
               grad_rows.shape[0] == ids.numel() && velocity.numel() == table.numel(),
           "sgd_rows: table ", table.shape.str(), ", ids ", ids.shape.str(), ", rows ", grad_rows.shape.str());
  check_same_device("sgd_rows", table, ids);
  dispatch<sgd_rows_op>(table.device)(res, table, velocity, ids, grad_rows, options);
}

// Adam (Kingma & Ba) and AdamW (Loshchilov & Hutter), step t >= 1:
//   g' = g + weight_decay * w                      (Adam: L2 in the gradient)
//   m = b1 m + (1 - b1) g';  v = b2 v + (1 - b2) g'^2
//   w -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
//   AdamW instead decays the weight directly: w -= lr * decoupled_decay * w, before the step.
// Rows: only the given rows (and their moments) change: lazy Adam as in
// PyTorch's SparseAdam, with the global step t for bias correction.
struct AdamOptions {
  float lr = 1e-3f;
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
  float weight_decay = 0.0f;    // L2 added to the gradient
  float decoupled_decay = 0.0f; // AdamW
  std::int64_t step = 1;        // t, for bias correction
};
using AdamDenseFn = void(const Resources&, TensorView weights, const TensorView& grad, TensorView m, TensorView v,
                         const AdamOptions& options);
RF_DECLARE_OP(adam_dense, AdamDenseFn);
using AdamRowsFn = void(const Resources&, TensorView table, TensorView m, TensorView v, const TensorView& ids,
                        const TensorView& grad_rows, const AdamOptions& options);
RF_DECLARE_OP(adam_rows, AdamRowsFn);

// Adagrad (Duchi et al.): g' = g + weight_decay * w;  s += g'^2;  w -= lr * g' / (sqrt(s) + eps).
struct AdagradOptions {
  float lr = 0.01f;
  float eps = 1e-10f;
  float weight_decay = 0.0f;
};
using AdagradDenseFn = void(const Resources&, TensorView weights, const TensorView& grad, TensorView sum_squares,
                            const AdagradOptions& options);
RF_DECLARE_OP(adagrad_dense, AdagradDenseFn);
using AdagradRowsFn = void(const Resources&, TensorView table, TensorView sum_squares, const TensorView& ids,
                           const TensorView& grad_rows, const AdagradOptions& options);
RF_DECLARE_OP(adagrad_rows, AdagradRowsFn);

// Checked entry points (shapes as for sgd_dense / sgd_rows; state tensors have the weights' shape).
void adam_dense(const Resources& res, TensorView weights, const TensorView& grad, TensorView m, TensorView v,
                const AdamOptions& options);
void adam_rows(const Resources& res, TensorView table, TensorView m, TensorView v, const TensorView& ids,
               const TensorView& grad_rows, const AdamOptions& options);
void adagrad_dense(const Resources& res, TensorView weights, const TensorView& grad, TensorView sum_squares,
                   const AdagradOptions& options);
void adagrad_rows(const Resources& res, TensorView table, TensorView sum_squares, const TensorView& ids,
                  const TensorView& grad_rows, const AdagradOptions& options);

}  // namespace recforge::kernels
