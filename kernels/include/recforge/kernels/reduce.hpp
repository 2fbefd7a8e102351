// Reductions and scaling used by the trainer (gradient norms and clipping).
//   defines: sum_squares, scale_inplace
#pragma once

#include "recforge/core/resources.hpp"
#include "recforge/core/tensor_view.hpp"
#include "recforge/registry/kernel_registry.hpp"

namespace recforge::kernels {

// Sum of squares of an f32 tensor, accumulated in f64 (synchronises on CUDA).
using SumSquaresFn = double(const Resources&, const TensorView& values);
RF_DECLARE_OP(sum_squares, SumSquaresFn);

// values *= factor. Contract: = (in place).
using ScaleInplaceFn = void(const Resources&, TensorView values, float factor);
RF_DECLARE_OP(scale_inplace, ScaleInplaceFn);

inline double sum_squares(const Resources& res, const TensorView& values) {
  check_dtype("sum_squares", values, DType::kF32);
  check_contiguous("sum_squares", values);
  return dispatch<sum_squares_op>(values.device)(res, values);
}

inline void scale_inplace(const Resources& res, TensorView values, float factor) {
  check_dtype("scale_inplace", values, DType::kF32);
  check_contiguous("scale_inplace", values);
  dispatch<scale_inplace_op>(values.device)(res, values, factor);
}

}  // namespace recforge::kernels
