// Reductions and scaling used by the trainer (gradient norms and clipping).
//   defines: tally_sum, tally_sum_squares, scale_inplace
//   helpers: read_sums, sum_squares (a tally read back at once)
#pragma once

#include <cstdint>
#include <vector>

#include "recforge/core/resources.hpp"
#include "recforge/core/tensor.hpp"
#include "recforge/registry/kernel_registry.hpp"

namespace recforge::kernels {

// sums[slot] += the sum of squares of an f32 tensor, accumulated in f64 in a
// fixed order. `sums` is an i64 tensor on the resources' device whose 8-byte
// slots hold doubles (there is no f64 dtype), zeroed by the caller. Nothing
// waits: tally many tensors, then read_sums once (one sync on CUDA).
using TallySumSquaresFn = void(const Resources&, const TensorView& values, TensorView sums, std::int64_t slot);
RF_DECLARE_OP(tally_sum_squares, TallySumSquaresFn);
// sums[slot] += the sum of an f32 tensor, the same way (a step's loss, read
// back with the step's other tallies).
RF_DECLARE_OP(tally_sum, TallySumSquaresFn);

// values *= factor. Contract: = (in place).
using ScaleInplaceFn = void(const Resources&, TensorView values, float factor);
RF_DECLARE_OP(scale_inplace, ScaleInplaceFn);

void tally_sum_squares(const Resources& res, const TensorView& values, TensorView sums, std::int64_t slot);
void tally_sum(const Resources& res, const TensorView& values, TensorView sums, std::int64_t slot);
// The slots' doubles on the host (synchronises the stream).
std::vector<double> read_sums(const Resources& res, const TensorView& sums);

// Sum of squares of one tensor, read back at once (synchronises on CUDA).
inline double sum_squares(const Resources& res, const TensorView& values) {
  Tensor sums = Tensor::zeros({1}, DType::kI64, res.device(), res.stream());
  tally_sum_squares(res, values, sums, 0);
  return read_sums(res, sums)[0];
}

inline void scale_inplace(const Resources& res, TensorView values, float factor) {
  check_dtype("scale_inplace", values, DType::kF32);
  check_contiguous("scale_inplace", values);
  dispatch<scale_inplace_op>(values.device)(res, values, factor);
}

}  // namespace recforge::kernels
