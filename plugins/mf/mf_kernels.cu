// CUDA kernels for MF: one warp per example, the dot product reduced with warp
// shuffles; same formulas as mf_kernels_cpu.cpp.
#include "mf_kernels.hpp"
#include "recforge/cuda/check.cuh"
#include "recforge/cuda/launch.cuh"

namespace recforge::mf {
namespace {

constexpr int kWarpsPerBlock = 8;

__device__ __forceinline__ float warp_sum(float v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

__global__ void mse_kernel(const float* P, const float* Q, const float* bu, const float* bi, const float* g_bias,
                           const std::int32_t* users, const std::int32_t* items, const float* r, std::int64_t n,
                           std::int64_t d, float scale, float reg, float* dP, float* dQ, float* dbu, float* dbi,
                           float* dg, float* loss) {
  const std::int64_t e = static_cast<std::int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (e >= n) return;
  const float* p = P + static_cast<std::int64_t>(users[e]) * d;
  const float* q = Q + static_cast<std::int64_t>(items[e]) * d;
  float partial = 0.0f;
  for (std::int64_t k = lane; k < d; k += 32) partial += p[k] * q[k];
  const float err = *g_bias + bu[users[e]] + bi[items[e]] + warp_sum(partial) - r[e];
  for (std::int64_t k = lane; k < d; k += 32) {
    dP[e * d + k] = scale * (2.0f * err * q[k] + 2.0f * reg * p[k]);
    dQ[e * d + k] = scale * (2.0f * err * p[k] + 2.0f * reg * q[k]);
  }
  if (lane == 0) {
    loss[e] = err * err;
    dbu[e] = scale * (2.0f * err + 2.0f * reg * bu[users[e]]);
    dbi[e] = scale * (2.0f * err + 2.0f * reg * bi[items[e]]);
    dg[e] = scale * 2.0f * err;
  }
}

__global__ void bpr_kernel(const float* P, const float* Q, const float* bi, const std::int32_t* users,
                           const std::int32_t* items, const std::int32_t* negatives, std::int64_t n, std::int64_t d,
                           float scale, float reg, float* dP, float* dQi, float* dQj, float* dbi, float* dbj, float* loss) {
  const std::int64_t e = static_cast<std::int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (e >= n) return;
  const float* p = P + static_cast<std::int64_t>(users[e]) * d;
  const float* qi = Q + static_cast<std::int64_t>(items[e]) * d;
  const float* qj = Q + static_cast<std::int64_t>(negatives[e]) * d;
  float partial = 0.0f;
  for (std::int64_t k = lane; k < d; k += 32) partial += p[k] * (qi[k] - qj[k]);
  const float x = warp_sum(partial) + bi[items[e]] - bi[negatives[e]];
  const float c = 1.0f / (1.0f + expf(-x)) - 1.0f;
  for (std::int64_t k = lane; k < d; k += 32) {
    dP[e * d + k] = scale * (c * (qi[k] - qj[k]) + 2.0f * reg * p[k]);
    dQi[e * d + k] = scale * (c * p[k] + 2.0f * reg * qi[k]);
    dQj[e * d + k] = scale * (-c * p[k] + 2.0f * reg * qj[k]);
  }
  if (lane == 0) {
    loss[e] = x > 0 ? log1pf(expf(-x)) : -x + log1pf(expf(x));
    dbi[e] = scale * (c + 2.0f * reg * bi[items[e]]);
    dbj[e] = scale * (-c + 2.0f * reg * bi[negatives[e]]);
  }
}

unsigned blocks_for_examples(std::int64_t n) {
  return static_cast<unsigned>((n + kWarpsPerBlock - 1) / kWarpsPerBlock);
}

void mse_step_cuda(const Resources& res, const Tables& t, const Batch& b, const Grads& g, float scale, float reg) {
  const std::int64_t n = b.user.numel();
  if (n == 0) return;
  mse_kernel<<<blocks_for_examples(n), kWarpsPerBlock * 32, 0, static_cast<cudaStream_t>(res.stream().native())>>>(
      t.user.data_as<float>(), t.item.data_as<float>(), t.user_bias.data_as<float>(), t.item_bias.data_as<float>(),
      t.global_bias.data_as<float>(), b.user.data_as<std::int32_t>(), b.item.data_as<std::int32_t>(), b.rating.data_as<float>(), n,
      t.user.shape[1], scale, reg, g.user.data_as<float>(), g.item.data_as<float>(), g.user_bias.data_as<float>(),
      g.item_bias.data_as<float>(), g.global_bias.data_as<float>(), g.loss.data_as<float>());
  RF_CUDA_CHECK_LAST();
}

void bpr_step_cuda(const Resources& res, const Tables& t, const Batch& b, const Grads& g, float scale, float reg) {
  const std::int64_t n = b.user.numel();
  if (n == 0) return;
  bpr_kernel<<<blocks_for_examples(n), kWarpsPerBlock * 32, 0, static_cast<cudaStream_t>(res.stream().native())>>>(
      t.user.data_as<float>(), t.item.data_as<float>(), t.item_bias.data_as<float>(), b.user.data_as<std::int32_t>(),
      b.item.data_as<std::int32_t>(), b.negative.data_as<std::int32_t>(), n, t.user.shape[1], scale, reg,
      g.user.data_as<float>(), g.item.data_as<float>(), g.negative.data_as<float>(), g.item_bias.data_as<float>(),
      g.negative_bias.data_as<float>(), g.loss.data_as<float>());
  RF_CUDA_CHECK_LAST();
}

}  // namespace

RF_REGISTER_KERNEL(mf_mse_step, kCUDA, mse_step_cuda);
RF_REGISTER_KERNEL(mf_bpr_step, kCUDA, bpr_step_cuda);

}  // namespace recforge::mf
