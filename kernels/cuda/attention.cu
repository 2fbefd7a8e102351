// CUDA attention ops (see attention.hpp): strided-batched cuBLAS products and
// a grid-stride causal mask.
#include <cublas_v2.h>

#include "recforge/cuda/check.cuh"
#include "recforge/cuda/launch.cuh"
#include "recforge/kernels/attention.hpp"

namespace recforge::kernels {
namespace {

void batched_gemm_cuda(const Resources& res, const TensorView& a, const TensorView& b, TensorView c,
                       const GemmOptions& o) {
  const std::int64_t batch = a.shape[0];
  const std::int64_t m = o.trans_a ? a.shape[2] : a.shape[1], k = o.trans_a ? a.shape[1] : a.shape[2];
  const std::int64_t n = o.trans_b ? b.shape[1] : b.shape[2];
  if (batch == 0 || m == 0 || n == 0) return;
  const auto handle = static_cast<cublasHandle_t>(res.cublas_handle());
  // Row-major C = A B is column-major C^T = B^T A^T: swap the operands.
  RF_CUBLAS_CHECK(cublasSgemmStridedBatched(
      handle, o.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, o.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, static_cast<int>(n),
      static_cast<int>(m), static_cast<int>(k), &o.alpha, b.data_as<float>(), static_cast<int>(b.shape[2]),
      b.shape[1] * b.shape[2], a.data_as<float>(), static_cast<int>(a.shape[2]), a.shape[1] * a.shape[2], &o.beta,
      c.data_as<float>(), static_cast<int>(n), m * n, static_cast<int>(batch)));
}

__global__ void causal_mask_kernel(float* x, std::int64_t total, std::int64_t l, const std::int32_t* begin,
                                   float value) {
  for (std::int64_t e = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t j = e % l, i = (e / l) % l, b = e / (l * l);
    const std::int64_t first = begin == nullptr ? 0 : min(max(static_cast<std::int64_t>(begin[b]), std::int64_t{0}), l);
    if (j > i || (i >= first && j < first)) x[e] = value;
  }
}

void causal_mask_cuda(const Resources& res, TensorView x, const TensorView& begin, float value) {
  const std::int64_t total = x.numel(), l = x.shape[1];
  if (total == 0) return;
  constexpr int kThreads = 256;
  causal_mask_kernel<<<cuda::blocks_for(total, kThreads), kThreads, 0, static_cast<cudaStream_t>(res.stream().native())>>>(
      x.data_as<float>(), total, l, begin.data != nullptr ? begin.data_as<std::int32_t>() : nullptr, value);
  RF_CUDA_CHECK_LAST();
}

}  // namespace

RF_REGISTER_KERNEL(batched_gemm, kCUDA, batched_gemm_cuda);
RF_REGISTER_KERNEL(causal_mask, kCUDA, causal_mask_cuda);

}  // namespace recforge::kernels
