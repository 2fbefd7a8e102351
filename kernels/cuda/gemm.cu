// CUDA gemm through cuBLAS. cuBLAS is column-major: a row-major C = op(A) op(B)
// is the column-major C^T = op(B)^T op(A)^T, so the operands swap places.
#include <cublas_v2.h>

#include "recforge/cuda/check.cuh"
#include "recforge/kernels/gemm.hpp"

namespace recforge::kernels {
namespace {

void gemm_cuda(const Resources& res, const TensorView& a, const TensorView& b, TensorView c, const GemmOptions& o) {
  const GemmShape s = check_gemm(a, b, c, o);
  if (s.m == 0 || s.n == 0) return;
  const auto handle = static_cast<cublasHandle_t>(res.cublas_handle());
  RF_CUBLAS_CHECK(cublasSgemm(handle, o.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, o.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                              static_cast<int>(s.n), static_cast<int>(s.m), static_cast<int>(s.k), &o.alpha,
                              b.data_as<float>(), static_cast<int>(b.strides[0]), a.data_as<float>(),
                              static_cast<int>(a.strides[0]), &o.beta, c.data_as<float>(), static_cast<int>(c.strides[0])));
}

}  // namespace

RF_REGISTER_KERNEL(gemm, kCUDA, gemm_cuda);

}  // namespace recforge::kernels
