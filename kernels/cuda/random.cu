// CUDA kernels for fill_uniform and fill_normal: one thread per element in a
// grid-stride loop, the same per-element formula as cpu/random.cpp.
#include "recforge/cuda/check.cuh"
#include "recforge/cuda/launch.cuh"
#include "recforge/kernels/random.hpp"
#include "recforge/kernels/random_math.hpp"

namespace recforge::kernels {
namespace {

constexpr int kThreads = 256;

__global__ void fill_uniform_kernel(float* out, std::int64_t n, float low, float scale, std::uint64_t seed,
                                    std::uint64_t stream) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    out[i] = detail::uniform_element(seed, stream, static_cast<std::uint64_t>(i), low, scale);
  }
}

__global__ void fill_normal_kernel(float* out, std::int64_t n, float mean, float stddev, std::uint64_t seed,
                                   std::uint64_t stream) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    out[i] = detail::normal_element(seed, stream, static_cast<std::uint64_t>(i), mean, stddev);
  }
}

void fill_uniform_cuda(const Resources& res, TensorView out, float low, float high, std::uint64_t seed,
                       std::uint64_t stream) {
  const std::int64_t n = out.numel();
  if (n == 0) return;
  fill_uniform_kernel<<<cuda::blocks_for(n, kThreads), kThreads, 0,
                        static_cast<cudaStream_t>(res.stream().native())>>>(out.data_as<float>(), n, low,
                                                                            high - low, seed, stream);
  RF_CUDA_CHECK_LAST();
}

void fill_normal_cuda(const Resources& res, TensorView out, float mean, float stddev, std::uint64_t seed,
                      std::uint64_t stream) {
  const std::int64_t n = out.numel();
  if (n == 0) return;
  fill_normal_kernel<<<cuda::blocks_for(n, kThreads), kThreads, 0,
                       static_cast<cudaStream_t>(res.stream().native())>>>(out.data_as<float>(), n, mean,
                                                                           stddev, seed, stream);
  RF_CUDA_CHECK_LAST();
}

}  // namespace

RF_REGISTER_KERNEL(fill_uniform, kCUDA, fill_uniform_cuda);
RF_REGISTER_KERNEL(fill_normal, kCUDA, fill_normal_cuda);

}  // namespace recforge::kernels
