// CUDA kernels for the SGD updates (the CPU reference is cpu/optim.cpp; the
// per-element formula is the same).
#include "recforge/cuda/check.cuh"
#include "recforge/cuda/launch.cuh"
#include "recforge/kernels/optim.hpp"

namespace recforge::kernels {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ void sgd_element(float& w, float g, float& v, SgdOptions o) {
  g += o.weight_decay * w;
  if (o.momentum > 0.0f) {
    v = o.momentum * v + g;
    g = v;
  }
  w -= o.lr * g;
}

__global__ void sgd_dense_kernel(float* w, const float* g, float* v, std::int64_t n, SgdOptions o) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    sgd_element(w[i], g[i], v[i], o);
  }
}

__global__ void sgd_rows_kernel(float* w, float* v, const std::int32_t* ids, const float* g, std::int64_t m,
                                std::int64_t d, SgdOptions o) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < m * d;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t at = static_cast<std::int64_t>(ids[i / d]) * d + i % d;
    sgd_element(w[at], g[i], v[at], o);
  }
}

void sgd_dense_cuda(const Resources& res, TensorView weights, const TensorView& grad, TensorView velocity,
                    const SgdOptions& o) {
  const std::int64_t n = weights.numel();
  if (n == 0) return;
  sgd_dense_kernel<<<cuda::blocks_for(n, kThreads), kThreads, 0, static_cast<cudaStream_t>(res.stream().native())>>>(
      weights.data_as<float>(), grad.data_as<float>(), velocity.data_as<float>(), n, o);
  RF_CUDA_CHECK_LAST();
}

void sgd_rows_cuda(const Resources& res, TensorView table, TensorView velocity, const TensorView& ids,
                   const TensorView& grad_rows, const SgdOptions& o) {
  const std::int64_t m = ids.numel(), d = table.shape[1];
  if (m == 0) return;
  sgd_rows_kernel<<<cuda::blocks_for(m * d, kThreads), kThreads, 0, static_cast<cudaStream_t>(res.stream().native())>>>(
      table.data_as<float>(), velocity.data_as<float>(), ids.data_as<std::int32_t>(), grad_rows.data_as<float>(), m, d, o);
  RF_CUDA_CHECK_LAST();
}

}  // namespace

RF_REGISTER_KERNEL(sgd_dense, kCUDA, sgd_dense_cuda);
RF_REGISTER_KERNEL(sgd_rows, kCUDA, sgd_rows_cuda);

}  // namespace recforge::kernels
