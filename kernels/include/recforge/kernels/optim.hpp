// Optimizer updates for dense parameters and for touched rows of embeddings.
//   defines: sgd_dense, sgd_rows
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

}  // namespace recforge::kernels
