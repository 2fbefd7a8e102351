// CUDA kernels for the SGD, Adam and Adagrad updates (the CPU reference is
// cpu/optim.cpp; the per-element formulas are the same, operation for
// operation). Rows kernels: one thread per (row, column) element, which is safe
// because row ids are unique (the trainer coalesces them). row_ids_note: an id
// outside the table is skipped, never written through (reporting it would
// need a host sync every step; the CPU reference throws). The ids a model
// trains on are the dataset's dense ids, checked when the data is prepared;
// the CUDA gather and scatter kernels do not check them either.
#include <cmath>

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
                                std::int64_t d, std::int64_t table_rows, SgdOptions o) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < m * d;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int32_t id = ids[i / d];
    if (id < 0 || id >= table_rows) continue;  // see row_ids_note
    const std::int64_t at = static_cast<std::int64_t>(id) * d + i % d;
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
      table.data_as<float>(), velocity.data_as<float>(), ids.data_as<std::int32_t>(), grad_rows.data_as<float>(), m, d,
      table.shape[0], o);
  RF_CUDA_CHECK_LAST();
}

// ---- Adam / AdamW ---------------------------------------------------------

// c1 = 1 - beta1^t, c2 = 1 - beta2^t, computed once on the host.
__device__ __forceinline__ void adam_element(float& w, float g, float& m, float& v, const AdamOptions& o, float c1,
                                             float c2) {
  w -= o.lr * o.decoupled_decay * w;  // as the CPU: AdamW (0 for Adam: w is unchanged)
  g += o.weight_decay * w;
  m = o.beta1 * m + (1.0f - o.beta1) * g;
  v = o.beta2 * v + (1.0f - o.beta2) * g * g;
  w -= o.lr * (m / c1) / (sqrtf(v / c2) + o.eps);
}

__global__ void adam_dense_kernel(float* w, const float* g, float* m, float* v, std::int64_t n, AdamOptions o,
                                  float c1, float c2) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    adam_element(w[i], g[i], m[i], v[i], o, c1, c2);
  }
}

__global__ void adam_rows_kernel(float* w, float* m, float* v, const std::int32_t* ids, const float* g,
                                 std::int64_t rows, std::int64_t d, std::int64_t table_rows, AdamOptions o, float c1,
                                 float c2) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < rows * d;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int32_t id = ids[i / d];
    if (id < 0 || id >= table_rows) continue;  // see row_ids_note
    const std::int64_t at = static_cast<std::int64_t>(id) * d + i % d;
    adam_element(w[at], g[i], m[at], v[at], o, c1, c2);
  }
}

// Bias correction 1 - beta^t with powf on the host, exactly as the CPU kernel computes it.
float bias_correction(float beta, std::int64_t t) { return 1.0f - powf(beta, static_cast<float>(t)); }

void adam_dense_cuda(const Resources& res, TensorView weights, const TensorView& grad, TensorView m, TensorView v,
                     const AdamOptions& o) {
  const std::int64_t n = weights.numel();
  if (n == 0) return;
  const float c1 = bias_correction(o.beta1, o.step), c2 = bias_correction(o.beta2, o.step);
  adam_dense_kernel<<<cuda::blocks_for(n, kThreads), kThreads, 0, static_cast<cudaStream_t>(res.stream().native())>>>(
      weights.data_as<float>(), grad.data_as<float>(), m.data_as<float>(), v.data_as<float>(), n, o, c1, c2);
  RF_CUDA_CHECK_LAST();
}

void adam_rows_cuda(const Resources& res, TensorView table, TensorView m, TensorView v, const TensorView& ids,
                    const TensorView& grad_rows, const AdamOptions& o) {
  const std::int64_t rows = ids.numel(), d = table.shape[1];
  if (rows == 0 || d == 0) return;
  const float c1 = bias_correction(o.beta1, o.step), c2 = bias_correction(o.beta2, o.step);
  adam_rows_kernel<<<cuda::blocks_for(rows * d, kThreads), kThreads, 0,
                     static_cast<cudaStream_t>(res.stream().native())>>>(
      table.data_as<float>(), m.data_as<float>(), v.data_as<float>(), ids.data_as<std::int32_t>(),
      grad_rows.data_as<float>(), rows, d, table.shape[0], o, c1, c2);
  RF_CUDA_CHECK_LAST();
}

// ---- Adagrad --------------------------------------------------------------

__device__ __forceinline__ void adagrad_element(float& w, float g, float& s, const AdagradOptions& o) {
  g += o.weight_decay * w;
  s += g * g;
  w -= o.lr * g / (sqrtf(s) + o.eps);
}

__global__ void adagrad_dense_kernel(float* w, const float* g, float* s, std::int64_t n, AdagradOptions o) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    adagrad_element(w[i], g[i], s[i], o);
  }
}

__global__ void adagrad_rows_kernel(float* w, float* s, const std::int32_t* ids, const float* g, std::int64_t rows,
                                    std::int64_t d, std::int64_t table_rows, AdagradOptions o) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < rows * d;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int32_t id = ids[i / d];
    if (id < 0 || id >= table_rows) continue;  // see row_ids_note
    const std::int64_t at = static_cast<std::int64_t>(id) * d + i % d;
    adagrad_element(w[at], g[i], s[at], o);
  }
}

void adagrad_dense_cuda(const Resources& res, TensorView weights, const TensorView& grad, TensorView sum_squares,
                        const AdagradOptions& o) {
  const std::int64_t n = weights.numel();
  if (n == 0) return;
  adagrad_dense_kernel<<<cuda::blocks_for(n, kThreads), kThreads, 0,
                         static_cast<cudaStream_t>(res.stream().native())>>>(
      weights.data_as<float>(), grad.data_as<float>(), sum_squares.data_as<float>(), n, o);
  RF_CUDA_CHECK_LAST();
}

void adagrad_rows_cuda(const Resources& res, TensorView table, TensorView sum_squares, const TensorView& ids,
                       const TensorView& grad_rows, const AdagradOptions& o) {
  const std::int64_t rows = ids.numel(), d = table.shape[1];
  if (rows == 0 || d == 0) return;
  adagrad_rows_kernel<<<cuda::blocks_for(rows * d, kThreads), kThreads, 0,
                        static_cast<cudaStream_t>(res.stream().native())>>>(
      table.data_as<float>(), sum_squares.data_as<float>(), ids.data_as<std::int32_t>(), grad_rows.data_as<float>(),
      rows, d, table.shape[0], o);
  RF_CUDA_CHECK_LAST();
}

}  // namespace

RF_REGISTER_KERNEL(sgd_dense, kCUDA, sgd_dense_cuda);
RF_REGISTER_KERNEL(sgd_rows, kCUDA, sgd_rows_cuda);
RF_REGISTER_KERNEL(adam_dense, kCUDA, adam_dense_cuda);
RF_REGISTER_KERNEL(adam_rows, kCUDA, adam_rows_cuda);
RF_REGISTER_KERNEL(adagrad_dense, kCUDA, adagrad_dense_cuda);
RF_REGISTER_KERNEL(adagrad_rows, kCUDA, adagrad_rows_cuda);

}  // namespace recforge::kernels
