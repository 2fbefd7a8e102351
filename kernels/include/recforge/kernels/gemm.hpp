// Dense matrix products, row-major: C = alpha * op(A) op(B) + beta * C.
//   defines: gemm (CPU: OpenBLAS sgemm; CUDA: cuBLAS sgemm), gemm_naive (plain loops,
//   the reference the tests hold both kernels to)
// Shapes: op(A) is (M, K), op(B) is (K, N), C is (M, N). Rows may be strided
// (row slices of a larger matrix); columns must be contiguous.
#pragma once

#include "recforge/core/resources.hpp"
#include "recforge/core/tensor_view.hpp"
#include "recforge/registry/kernel_registry.hpp"

namespace recforge::kernels {

struct GemmOptions {
  bool trans_a = false;
  bool trans_b = false;
  float alpha = 1.0f;
  float beta = 0.0f;  // 0: C is overwritten (its old contents may be garbage)
};

using GemmFn = void(const Resources&, const TensorView& a, const TensorView& b, TensorView c, const GemmOptions&);
RF_DECLARE_OP(gemm, GemmFn);

// Checks shapes and returns (M, N, K).
struct GemmShape {
  std::int64_t m, n, k;
};
GemmShape check_gemm(const TensorView& a, const TensorView& b, const TensorView& c, const GemmOptions& o);

// C = beta * C, the product of an empty inner dimension (K = 0): BLAS
// libraries differ on whether they write C then, and with beta 0 C may hold
// garbage (a rank's empty last batch stores its weight gradients this way).
void empty_product(const Resources& res, TensorView c, float beta);

/// C = alpha * op(A) op(B) + beta * C.
/// @code
///   gemm(res, user_block, items, scores, {.trans_b = true});   // scores = U V^T
/// @endcode
inline void gemm(const Resources& res, const TensorView& a, const TensorView& b, TensorView c, const GemmOptions& o = {}) {
  const GemmShape s = check_gemm(a, b, c, o);
  check_same_device("gemm", a, b);
  check_same_device("gemm", a, c);
  if (s.k == 0) return empty_product(res, c, o.beta);
  dispatch<gemm_op>(a.device)(res, a, b, c, o);
}

// Plain-loop product on the CPU (f64 accumulation), for tests and tiny sizes.
void gemm_naive(const TensorView& a, const TensorView& b, TensorView c, const GemmOptions& o = {});

}  // namespace recforge::kernels
