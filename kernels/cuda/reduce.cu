// CUDA kernels for tally_sum and tally_sum_squares (block partial sums in f64, then one
// thread adds them in order into the slot: no atomics, no host wait) and
// scale_inplace.
#include "recforge/cuda/check.cuh"
#include "recforge/cuda/launch.cuh"
#include <algorithm>
#include <vector>

#include "recforge/core/tensor.hpp"
#include "recforge/kernels/reduce.hpp"

namespace recforge::kernels {
namespace {

constexpr int kThreads = 256;

template <bool kSquares>
__global__ void sum_kernel(const float* v, std::int64_t n, double* partial) {
  __shared__ double block[kThreads];
  double local = 0;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    local += kSquares ? static_cast<double>(v[i]) * v[i] : static_cast<double>(v[i]);
  }
  block[threadIdx.x] = local;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) block[threadIdx.x] += block[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) partial[blockIdx.x] = block[0];
}

__global__ void add_partials_kernel(const double* partial, unsigned blocks, double* slot) {
  double sum = 0;
  for (unsigned b = 0; b < blocks; ++b) sum += partial[b];  // fixed order: reproducible
  *slot += sum;
}

template <bool kSquares>
void tally_cuda(const Resources& res, const TensorView& values, TensorView sums, std::int64_t slot) {
  const std::int64_t n = values.numel();
  if (n == 0) return;
  const unsigned blocks = std::min(cuda::blocks_for(n, kThreads), 512u);
  Tensor partial = Tensor::empty({blocks}, DType::kI64 /* 8-byte slots */, res.allocator(), res.stream());
  const auto stream = static_cast<cudaStream_t>(res.stream().native());
  sum_kernel<kSquares><<<blocks, kThreads, 0, stream>>>(values.data_as<float>(), n, static_cast<double*>(partial.data()));
  RF_CUDA_CHECK_LAST();
  add_partials_kernel<<<1, 1, 0, stream>>>(static_cast<const double*>(partial.data()), blocks,
                                           reinterpret_cast<double*>(sums.data_as<std::int64_t>()) + slot);
  RF_CUDA_CHECK_LAST();
}

__global__ void scale_kernel(float* v, std::int64_t n, float factor) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    v[i] *= factor;
  }
}

void scale_inplace_cuda(const Resources& res, TensorView values, float factor) {
  const std::int64_t n = values.numel();
  if (n == 0) return;
  scale_kernel<<<cuda::blocks_for(n, kThreads), kThreads, 0, static_cast<cudaStream_t>(res.stream().native())>>>(
      values.data_as<float>(), n, factor);
  RF_CUDA_CHECK_LAST();
}

}  // namespace

RF_REGISTER_KERNEL(tally_sum_squares, kCUDA, tally_cuda<true>);
RF_REGISTER_KERNEL(tally_sum, kCUDA, tally_cuda<false>);
RF_REGISTER_KERNEL(scale_inplace, kCUDA, scale_inplace_cuda);

}  // namespace recforge::kernels
