// CUDA kernels for the neural-network ops (see nn.hpp; the CPU reference is
// cpu/nn.cpp and the per-element formulas are the same).
//   - Elementwise ops: one thread per element in grid-stride loops.
//   - Row ops (softmax, layer norm, l2 normalisation, row dots): one warp per
//     row, reductions by butterfly shuffles, so every lane of the warp holds the
//     same bits of a row statistic.
//   - Column sums (bias, gamma and beta gradients) and sum_all use fixed
//     reduction trees and no float atomics: the same inputs give the same bits
//     on every run.
//   - Dropout draws philox_uniform(seed, stream, offset + i) like the CPU, so
//     both devices drop exactly the same elements.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "recforge/core/philox.hpp"
#include "recforge/core/tensor.hpp"
#include "recforge/cuda/check.cuh"
#include "recforge/cuda/launch.cuh"
#include "recforge/kernels/nn.hpp"

namespace recforge::kernels {
namespace {

constexpr int kThreads = 256;
constexpr int kWarp = 32;
constexpr int kWarpsPerBlock = kThreads / kWarp;
constexpr unsigned kFullMask = 0xffffffffu;
// Rows per partial in the column sums: small enough to expose parallelism over
// long batches, large enough that short batches are a single in-order pass.
constexpr std::int64_t kColumnChunk = 256;
// sum_all: at most this many block partials, summed in order by one block.
constexpr unsigned kSumAllBlocks = 1024;

constexpr float kInvSqrt2 = 0.70710678118654752440f;
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;

cudaStream_t stream_of(const Resources& res) { return static_cast<cudaStream_t>(res.stream().native()); }

// Launch shapes: elementwise kernels use one thread per item, row kernels one warp per row.
unsigned element_blocks(std::int64_t n) { return cuda::blocks_for(n, kThreads); }
unsigned row_blocks(std::int64_t rows) { return cuda::blocks_for(rows, kWarpsPerBlock); }

__device__ __forceinline__ std::int64_t thread_index() {
  return blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
}
__device__ __forceinline__ std::int64_t thread_count() { return static_cast<std::int64_t>(gridDim.x) * blockDim.x; }
// blockDim.x is a multiple of 32, so the warp index is uniform across a warp's lanes
// and a warp's lanes always agree on which row they work on.
__device__ __forceinline__ std::int64_t warp_index() { return thread_index() / kWarp; }
__device__ __forceinline__ std::int64_t warp_count() { return thread_count() / kWarp; }
__device__ __forceinline__ int lane_index() { return static_cast<int>(threadIdx.x % kWarp); }

// Butterfly reductions: a + b == b + a in IEEE arithmetic, so all lanes end with identical bits.
__device__ __forceinline__ float warp_sum(float v) {
  for (int offset = kWarp / 2; offset > 0; offset >>= 1) v += __shfl_xor_sync(kFullMask, v, offset);
  return v;
}
__device__ __forceinline__ double warp_sum(double v) {
  for (int offset = kWarp / 2; offset > 0; offset >>= 1) v += __shfl_xor_sync(kFullMask, v, offset);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int offset = kWarp / 2; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, offset));
  return v;
}

// Fixed-shape tree over one block (blockDim.x == kThreads); the result is valid in every thread.
// Call it at most once per kernel: the shared buffer is not fenced for reuse.
__device__ double block_sum(double v) {
  __shared__ double partial[kThreads];
  partial[threadIdx.x] = v;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
    __syncthreads();
  }
  return partial[0];
}

// Stable in both tails: exp never sees a large positive argument.
__device__ __forceinline__ float sigmoid(float x) {
  if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
  const float e = expf(x);
  return e / (1.0f + e);
}

// ---- elementwise ---------------------------------------------------------

template <Activation A>
__device__ __forceinline__ float activate(float x) {
  if constexpr (A == Activation::kRelu) {
    return x > 0.0f ? x : 0.0f;
  } else if constexpr (A == Activation::kGelu) {
    return 0.5f * x * (1.0f + erff(x * kInvSqrt2));
  } else if constexpr (A == Activation::kSigmoid) {
    return sigmoid(x);
  } else if constexpr (A == Activation::kLogSigmoid) {
    return fminf(x, 0.0f) - log1pf(expf(-fabsf(x)));
  } else {
    return tanhf(x);
  }
}

// f'(x); sigmoid and tanh use the saved y = f(x).
template <Activation A>
__device__ __forceinline__ float activation_derivative(float x, float y) {
  if constexpr (A == Activation::kRelu) {
    return x > 0.0f ? 1.0f : 0.0f;
  } else if constexpr (A == Activation::kGelu) {
    return 0.5f * (1.0f + erff(x * kInvSqrt2)) + x * expf(-0.5f * x * x) * kInvSqrt2Pi;
  } else if constexpr (A == Activation::kSigmoid) {
    return y * (1.0f - y);
  } else if constexpr (A == Activation::kLogSigmoid) {
    return sigmoid(-x);  // d/dx log sigmoid(x) = 1 - sigmoid(x), exact for large x
  } else {
    return 1.0f - y * y;
  }
}

// Calls launch(std::integral_constant<Activation, f>{}): one kernel instance per activation,
// so the per-element switch is resolved at compile time.
template <class Launch>
void with_activation(Activation f, const Launch& launch) {
  switch (f) {
    case Activation::kRelu: return launch(std::integral_constant<Activation, Activation::kRelu>{});
    case Activation::kGelu: return launch(std::integral_constant<Activation, Activation::kGelu>{});
    case Activation::kSigmoid: return launch(std::integral_constant<Activation, Activation::kSigmoid>{});
    case Activation::kLogSigmoid: return launch(std::integral_constant<Activation, Activation::kLogSigmoid>{});
    case Activation::kTanh: return launch(std::integral_constant<Activation, Activation::kTanh>{});
  }
  RF_THROW(ErrorKind::kInvalidArgument, "activation: unknown function ", static_cast<int>(f));
}

template <Activation A>
__global__ void activation_forward_kernel(const float* x, float* y, std::int64_t n) {
  for (std::int64_t i = thread_index(); i < n; i += thread_count()) y[i] = activate<A>(x[i]);
}

template <Activation A>
__global__ void activation_backward_kernel(const float* x, const float* y, const float* dy, float* dx,
                                           std::int64_t n, bool accumulate) {
  for (std::int64_t i = thread_index(); i < n; i += thread_count()) {
    const float v = dy[i] * activation_derivative<A>(x[i], y[i]);
    dx[i] = accumulate ? dx[i] + v : v;
  }
}

void activation_forward_cuda(const Resources& res, Activation f, const TensorView& x, TensorView y) {
  const std::int64_t n = x.numel();
  if (n == 0) return;
  with_activation(f, [&](auto a) {
    activation_forward_kernel<decltype(a)::value><<<element_blocks(n), kThreads, 0, stream_of(res)>>>(
        x.data_as<float>(), y.data_as<float>(), n);
  });
  RF_CUDA_CHECK_LAST();
}

void activation_backward_cuda(const Resources& res, Activation f, const TensorView& x, const TensorView& y,
                              const TensorView& dy, TensorView dx, bool accumulate) {
  const std::int64_t n = x.numel();
  if (n == 0) return;
  with_activation(f, [&](auto a) {
    activation_backward_kernel<decltype(a)::value><<<element_blocks(n), kThreads, 0, stream_of(res)>>>(
        x.data_as<float>(), y.data_as<float>(), dy.data_as<float>(), dx.data_as<float>(), n, accumulate);
  });
  RF_CUDA_CHECK_LAST();
}

template <Binary Op>
__global__ void binary_kernel(const float* a, const float* b, float* y, std::int64_t n) {
  for (std::int64_t i = thread_index(); i < n; i += thread_count()) {
    if constexpr (Op == Binary::kAdd) {
      y[i] = a[i] + b[i];
    } else if constexpr (Op == Binary::kSub) {
      y[i] = a[i] - b[i];
    } else {
      y[i] = a[i] * b[i];
    }
  }
}

void binary_cuda(const Resources& res, Binary op, const TensorView& a, const TensorView& b, TensorView y) {
  const std::int64_t n = a.numel();
  if (n == 0) return;
  const float* pa = a.data_as<float>();
  const float* pb = b.data_as<float>();
  float* py = y.data_as<float>();
  const cudaStream_t stream = stream_of(res);
  switch (op) {
    case Binary::kAdd: binary_kernel<Binary::kAdd><<<element_blocks(n), kThreads, 0, stream>>>(pa, pb, py, n); break;
    case Binary::kSub: binary_kernel<Binary::kSub><<<element_blocks(n), kThreads, 0, stream>>>(pa, pb, py, n); break;
    case Binary::kMul: binary_kernel<Binary::kMul><<<element_blocks(n), kThreads, 0, stream>>>(pa, pb, py, n); break;
    default: RF_THROW(ErrorKind::kInvalidArgument, "binary: unknown op ", static_cast<int>(op));
  }
  RF_CUDA_CHECK_LAST();
}

__global__ void axpy_kernel(float alpha, const float* x, float* y, std::int64_t n) {
  for (std::int64_t i = thread_index(); i < n; i += thread_count()) y[i] += alpha * x[i];
}

void axpy_cuda(const Resources& res, float alpha, const TensorView& x, TensorView y) {
  const std::int64_t n = x.numel();
  if (n == 0) return;
  axpy_kernel<<<element_blocks(n), kThreads, 0, stream_of(res)>>>(alpha, x.data_as<float>(), y.data_as<float>(), n);
  RF_CUDA_CHECK_LAST();
}

__global__ void mul_accumulate_kernel(const float* a, const float* b, float* y, std::int64_t n) {
  for (std::int64_t i = thread_index(); i < n; i += thread_count()) y[i] += a[i] * b[i];
}

void mul_accumulate_cuda(const Resources& res, const TensorView& a, const TensorView& b, TensorView y) {
  const std::int64_t n = a.numel();
  if (n == 0) return;
  mul_accumulate_kernel<<<element_blocks(n), kThreads, 0, stream_of(res)>>>(a.data_as<float>(), b.data_as<float>(),
                                                                            y.data_as<float>(), n);
  RF_CUDA_CHECK_LAST();
}

__global__ void scale_kernel(float alpha, const float* x, float* y, std::int64_t n) {
  for (std::int64_t i = thread_index(); i < n; i += thread_count()) y[i] = alpha * x[i];
}

void scale_cuda(const Resources& res, float alpha, const TensorView& x, TensorView y) {
  const std::int64_t n = x.numel();
  if (n == 0) return;
  scale_kernel<<<element_blocks(n), kThreads, 0, stream_of(res)>>>(alpha, x.data_as<float>(), y.data_as<float>(), n);
  RF_CUDA_CHECK_LAST();
}

// ---- rows and columns ----------------------------------------------------

__global__ void bias_add_kernel(const float* x, const float* b, float* y, std::int64_t n, std::int64_t d) {
  for (std::int64_t i = thread_index(); i < n; i += thread_count()) y[i] = x[i] + b[i % d];
}

void bias_add_cuda(const Resources& res, const TensorView& x, const TensorView& b, TensorView y) {
  const std::int64_t n = x.numel(), d = b.numel();
  if (n == 0 || d == 0) return;
  bias_add_kernel<<<element_blocks(n), kThreads, 0, stream_of(res)>>>(x.data_as<float>(), b.data_as<float>(),
                                                                      y.data_as<float>(), n, d);
  RF_CUDA_CHECK_LAST();
}

// Column sums out[c] += sum_r term(r, c) over an (n, d) range, deterministically:
// rows are cut into fixed chunks of kColumnChunk, each (chunk, column) is summed
// in row order, then each column's chunk partials are summed in chunk order. One
// chunk (n <= kColumnChunk) is a plain in-order sum per column.
struct RowValue {
  const float* v;
  __device__ float operator()(std::int64_t r, std::int64_t c, std::int64_t d) const { return v[r * d + c]; }
};

// dy * xhat for the layer-norm gamma gradient, xhat recomputed from the saved mean and rstd.
struct RowValueTimesXhat {
  const float* dy;
  const float* x;
  const float* mean;
  const float* rstd;
  __device__ float operator()(std::int64_t r, std::int64_t c, std::int64_t d) const {
    const std::int64_t i = r * d + c;
    return dy[i] * ((x[i] - mean[r]) * rstd[r]);  // xhat first, as the CPU
  }
};

template <class Term>
__global__ void column_chunk_sums_kernel(Term term, std::int64_t n, std::int64_t d, std::int64_t chunks,
                                         float* partial, float* out) {
  for (std::int64_t i = thread_index(); i < chunks * d; i += thread_count()) {
    const std::int64_t chunk = i / d, c = i % d;
    const std::int64_t begin = chunk * kColumnChunk;
    const std::int64_t end = n < begin + kColumnChunk ? n : begin + kColumnChunk;
    float sum = 0.0f;
    for (std::int64_t r = begin; r < end; ++r) sum += term(r, c, d);
    if (chunks == 1) {
      out[c] += sum;  // a single chunk goes straight into the gradient
    } else {
      partial[i] = sum;
    }
  }
}

__global__ void column_partials_accumulate_kernel(const float* partial, std::int64_t chunks, std::int64_t d,
                                                  float* out) {
  for (std::int64_t c = thread_index(); c < d; c += thread_count()) {
    float sum = 0.0f;
    for (std::int64_t k = 0; k < chunks; ++k) sum += partial[k * d + c];
    out[c] += sum;
  }
}

template <class Term>
void column_sums_accumulate(const Resources& res, const Term& term, std::int64_t n, std::int64_t d, float* out) {
  if (n == 0 || d == 0) return;
  const cudaStream_t stream = stream_of(res);
  const std::int64_t chunks = (n + kColumnChunk - 1) / kColumnChunk;
  Tensor partial;  // stream-ordered scratch, released after the second kernel is queued
  if (chunks > 1) partial = Tensor::empty({chunks, d}, DType::kF32, res.allocator(), res.stream());
  float* partial_data = chunks > 1 ? partial.data_as<float>() : nullptr;
  column_chunk_sums_kernel<<<element_blocks(chunks * d), kThreads, 0, stream>>>(term, n, d, chunks, partial_data,
                                                                                out);
  RF_CUDA_CHECK_LAST();
  if (chunks > 1) {
    column_partials_accumulate_kernel<<<element_blocks(d), kThreads, 0, stream>>>(partial_data, chunks, d, out);
    RF_CUDA_CHECK_LAST();
  }
}

void sum_rows_accumulate_cuda(const Resources& res, const TensorView& dy, TensorView db) {
  const std::int64_t d = db.numel();
  const std::int64_t n = d > 0 ? dy.numel() / d : 0;
  column_sums_accumulate(res, RowValue{dy.data_as<float>()}, n, d, db.data_as<float>());
}

__global__ void rowwise_dot_kernel(const float* a, const float* b, float* y, std::int64_t n, std::int64_t d) {
  const int lane = lane_index();
  for (std::int64_t r = warp_index(); r < n; r += warp_count()) {
    const float* ar = a + r * d;
    const float* br = b + r * d;
    float sum = 0.0f;
    for (std::int64_t c = lane; c < d; c += kWarp) sum += ar[c] * br[c];
    sum = warp_sum(sum);
    if (lane == 0) y[r] = sum;
  }
}

void rowwise_dot_cuda(const Resources& res, const TensorView& a, const TensorView& b, TensorView y) {
  const std::int64_t n = y.numel();
  if (n == 0) return;
  const std::int64_t d = a.numel() / n;
  rowwise_dot_kernel<<<row_blocks(n), kThreads, 0, stream_of(res)>>>(a.data_as<float>(), b.data_as<float>(),
                                                                     y.data_as<float>(), n, d);
  RF_CUDA_CHECK_LAST();
}

__global__ void scale_rows_accumulate_kernel(const float* x, const float* s, float* y, std::int64_t total,
                                             std::int64_t d) {
  for (std::int64_t i = thread_index(); i < total; i += thread_count()) y[i] += x[i] * s[i / d];
}

void scale_rows_accumulate_cuda(const Resources& res, const TensorView& x, const TensorView& s, TensorView y) {
  const std::int64_t total = x.numel(), n = s.numel();
  if (total == 0 || n == 0) return;
  scale_rows_accumulate_kernel<<<element_blocks(total), kThreads, 0, stream_of(res)>>>(
      x.data_as<float>(), s.data_as<float>(), y.data_as<float>(), total, total / n);
  RF_CUDA_CHECK_LAST();
}

// src and dst already point at their first copied column.
__global__ void copy_columns_kernel(const float* src, std::int64_t src_stride, float* dst, std::int64_t dst_stride,
                                    std::int64_t n, std::int64_t width, bool accumulate) {
  for (std::int64_t i = thread_index(); i < n * width; i += thread_count()) {
    const std::int64_t r = i / width, j = i % width;
    const float v = src[r * src_stride + j];
    float& out = dst[r * dst_stride + j];
    out = accumulate ? out + v : v;
  }
}

void copy_columns_cuda(const Resources& res, const TensorView& src, std::int64_t src_col, TensorView dst,
                       std::int64_t dst_col, std::int64_t width, bool accumulate) {
  const std::int64_t n = src.ndim() > 0 ? src.shape[0] : 0;
  if (n == 0 || width <= 0) return;
  const std::int64_t src_stride = src.shape[1], dst_stride = dst.shape[1];
  copy_columns_kernel<<<element_blocks(n * width), kThreads, 0, stream_of(res)>>>(
      src.data_as<float>() + src_col, src_stride, dst.data_as<float>() + dst_col, dst_stride, n, width, accumulate);
  RF_CUDA_CHECK_LAST();
}

// ---- reductions ----------------------------------------------------------

// sum_all, stage 1: each block sums its grid-stride share in double. The share
// depends only on n (the grid size is a function of n), so the tree is fixed.
__global__ void sum_all_blocks_kernel(const float* x, std::int64_t n, double* partial) {
  double local = 0.0;
  for (std::int64_t i = thread_index(); i < n; i += thread_count()) local += x[i];
  const double sum = block_sum(local);
  if (threadIdx.x == 0) partial[blockIdx.x] = sum;
}

// sum_all, stage 2: one block folds the block partials in a fixed order.
__global__ void sum_all_final_kernel(const double* partial, unsigned count, float* out) {
  double local = 0.0;
  for (unsigned i = threadIdx.x; i < count; i += blockDim.x) local += partial[i];
  const double sum = block_sum(local);
  if (threadIdx.x == 0) out[0] = static_cast<float>(sum);
}

void sum_all_cuda(const Resources& res, const TensorView& x, TensorView out) {
  const std::int64_t n = x.numel();
  const cudaStream_t stream = stream_of(res);
  float* result = out.data_as<float>();
  if (n == 0) {  // the empty sum is 0 (all-zero bits); no kernel needed
    RF_CUDA_CHECK(cudaMemsetAsync(result, 0, sizeof(float), stream));
    return;
  }
  const unsigned blocks = std::min(element_blocks(n), kSumAllBlocks);
  Tensor partial = Tensor::empty({static_cast<std::int64_t>(blocks)}, DType::kI64 /* 8-byte slots for doubles */,
                                 res.allocator(), res.stream());
  double* partial_data = static_cast<double*>(partial.data());
  sum_all_blocks_kernel<<<blocks, kThreads, 0, stream>>>(x.data_as<float>(), n, partial_data);
  RF_CUDA_CHECK_LAST();
  sum_all_final_kernel<<<1, kThreads, 0, stream>>>(partial_data, blocks, result);
  RF_CUDA_CHECK_LAST();
}

__global__ void broadcast_accumulate_kernel(const float* dy, float alpha, float* dx, std::int64_t n) {
  const float v = alpha * dy[0];  // read on the device: no host sync for the upstream gradient
  for (std::int64_t i = thread_index(); i < n; i += thread_count()) dx[i] += v;
}

void broadcast_accumulate_cuda(const Resources& res, const TensorView& dy, float alpha, TensorView dx) {
  const std::int64_t n = dx.numel();
  if (n == 0) return;
  broadcast_accumulate_kernel<<<element_blocks(n), kThreads, 0, stream_of(res)>>>(dy.data_as<float>(), alpha,
                                                                                  dx.data_as<float>(), n);
  RF_CUDA_CHECK_LAST();
}

// ---- losses --------------------------------------------------------------

__global__ void bce_with_logits_kernel(const float* logits, const float* targets, float* loss, std::int64_t n) {
  for (std::int64_t i = thread_index(); i < n; i += thread_count()) {
    const float x = logits[i];
    loss[i] = (x < 0.0f ? 0.0f : x) - x * targets[i] + log1pf(expf(-fabsf(x)));
  }
}

void bce_with_logits_cuda(const Resources& res, const TensorView& logits, const TensorView& targets,
                          TensorView loss) {
  const std::int64_t n = logits.numel();
  if (n == 0) return;
  bce_with_logits_kernel<<<element_blocks(n), kThreads, 0, stream_of(res)>>>(
      logits.data_as<float>(), targets.data_as<float>(), loss.data_as<float>(), n);
  RF_CUDA_CHECK_LAST();
}

__global__ void bce_with_logits_backward_kernel(const float* logits, const float* targets, const float* dloss,
                                                float* dlogits, std::int64_t n) {
  for (std::int64_t i = thread_index(); i < n; i += thread_count()) {
    dlogits[i] += dloss[i] * (sigmoid(logits[i]) - targets[i]);
  }
}

void bce_with_logits_backward_cuda(const Resources& res, const TensorView& logits, const TensorView& targets,
                                   const TensorView& dloss, TensorView dlogits) {
  const std::int64_t n = logits.numel();
  if (n == 0) return;
  bce_with_logits_backward_kernel<<<element_blocks(n), kThreads, 0, stream_of(res)>>>(
      logits.data_as<float>(), targets.data_as<float>(), dloss.data_as<float>(), dlogits.data_as<float>(), n);
  RF_CUDA_CHECK_LAST();
}

// Max-subtracted softmax statistics of one row, identical in every lane. As on
// the CPU, exp(x - max) is taken in float and summed in double, and the row is written as
// exp(x - max) * inv with inv = 1 / sum rounded to float.
struct SoftmaxStats {
  float max;
  float inv_sum;
  float log_sum;
};

__device__ __forceinline__ SoftmaxStats softmax_stats(const float* xr, std::int64_t d, int lane) {
  float m = -INFINITY;
  for (std::int64_t c = lane; c < d; c += kWarp) m = fmaxf(m, xr[c]);
  m = warp_max(m);
  double sum = 0.0;
  for (std::int64_t c = lane; c < d; c += kWarp) sum += static_cast<double>(expf(xr[c] - m));
  sum = warp_sum(sum);
  return {m, static_cast<float>(1.0 / sum), static_cast<float>(log(sum))};
}

__global__ void softmax_cross_entropy_kernel(const float* logits, const std::int32_t* target, float* probs,
                                             float* loss, std::int64_t n, std::int64_t c) {
  const int lane = lane_index();
  for (std::int64_t r = warp_index(); r < n; r += warp_count()) {
    const float* xr = logits + r * c;
    float* pr = probs + r * c;
    const SoftmaxStats stats = softmax_stats(xr, c, lane);
    for (std::int64_t j = lane; j < c; j += kWarp) pr[j] = expf(xr[j] - stats.max) * stats.inv_sum;
    if (lane == 0) {
      const std::int32_t t = target[r];
      // loss = logsumexp - logit[target]. An out-of-range target cannot be reported
      // without a sync: NaN marks the row instead of reading out of bounds.
      loss[r] = (t >= 0 && t < c) ? (stats.max + stats.log_sum) - xr[t] : NAN;
    }
  }
}

void softmax_cross_entropy_cuda(const Resources& res, const TensorView& logits, const TensorView& target,
                                TensorView probs, TensorView loss) {
  const std::int64_t n = loss.numel();
  if (n == 0) return;
  const std::int64_t c = logits.numel() / n;
  softmax_cross_entropy_kernel<<<row_blocks(n), kThreads, 0, stream_of(res)>>>(
      logits.data_as<float>(), target.data_as<std::int32_t>(), probs.data_as<float>(), loss.data_as<float>(), n, c);
  RF_CUDA_CHECK_LAST();
}

__global__ void softmax_cross_entropy_backward_kernel(const float* probs, const std::int32_t* target,
                                                      const float* dloss, float* dlogits, std::int64_t total,
                                                      std::int64_t c) {
  for (std::int64_t i = thread_index(); i < total; i += thread_count()) {
    const std::int64_t r = i / c, j = i % c;
    const float onehot = target[r] == j ? 1.0f : 0.0f;
    dlogits[i] += dloss[r] * (probs[i] - onehot);
  }
}

void softmax_cross_entropy_backward_cuda(const Resources& res, const TensorView& probs, const TensorView& target,
                                         const TensorView& dloss, TensorView dlogits) {
  const std::int64_t total = probs.numel(), n = dloss.numel();
  if (total == 0 || n == 0) return;
  softmax_cross_entropy_backward_kernel<<<element_blocks(total), kThreads, 0, stream_of(res)>>>(
      probs.data_as<float>(), target.data_as<std::int32_t>(), dloss.data_as<float>(), dlogits.data_as<float>(),
      total, total / n);
  RF_CUDA_CHECK_LAST();
}

// ---- normalisation -------------------------------------------------------

__global__ void softmax_rows_kernel(const float* x, float* y, std::int64_t n, std::int64_t d) {
  const int lane = lane_index();
  for (std::int64_t r = warp_index(); r < n; r += warp_count()) {
    const float* xr = x + r * d;
    float* yr = y + r * d;
    const SoftmaxStats stats = softmax_stats(xr, d, lane);
    for (std::int64_t c = lane; c < d; c += kWarp) yr[c] = expf(xr[c] - stats.max) * stats.inv_sum;
  }
}

void softmax_rows_cuda(const Resources& res, const TensorView& x, TensorView y) {
  const std::int64_t total = x.numel();
  if (total == 0) return;
  const std::int64_t n = x.shape[0];
  softmax_rows_kernel<<<row_blocks(n), kThreads, 0, stream_of(res)>>>(x.data_as<float>(), y.data_as<float>(), n,
                                                                      total / n);
  RF_CUDA_CHECK_LAST();
}

__global__ void softmax_rows_backward_kernel(const float* y, const float* dy, float* dx, std::int64_t n,
                                             std::int64_t d) {
  const int lane = lane_index();
  for (std::int64_t r = warp_index(); r < n; r += warp_count()) {
    const float* yr = y + r * d;
    const float* gr = dy + r * d;
    float* dr = dx + r * d;
    float dot = 0.0f;
    for (std::int64_t c = lane; c < d; c += kWarp) dot += gr[c] * yr[c];
    dot = warp_sum(dot);
    for (std::int64_t c = lane; c < d; c += kWarp) dr[c] += yr[c] * (gr[c] - dot);
  }
}

void softmax_rows_backward_cuda(const Resources& res, const TensorView& y, const TensorView& dy, TensorView dx) {
  const std::int64_t total = y.numel();
  if (total == 0) return;
  const std::int64_t n = y.shape[0];
  softmax_rows_backward_kernel<<<row_blocks(n), kThreads, 0, stream_of(res)>>>(
      y.data_as<float>(), dy.data_as<float>(), dx.data_as<float>(), n, total / n);
  RF_CUDA_CHECK_LAST();
}

// Two passes over the row (mean, then squared deviations) rather than E[x^2] - E[x]^2,
// which cancels badly when |mean| >> std; sums in double as on the CPU.
__global__ void layer_norm_kernel(const float* x, const float* gamma, const float* beta, float eps, float* y,
                                  float* mean, float* rstd, std::int64_t n, std::int64_t d) {
  const int lane = lane_index();
  for (std::int64_t r = warp_index(); r < n; r += warp_count()) {
    const float* xr = x + r * d;
    float* yr = y + r * d;
    double sum = 0.0;
    for (std::int64_t c = lane; c < d; c += kWarp) sum += xr[c];
    const auto m = static_cast<float>(warp_sum(sum) / static_cast<double>(d));
    double squares = 0.0;
    for (std::int64_t c = lane; c < d; c += kWarp) {
      const float t = xr[c] - m;
      squares += static_cast<double>(t) * t;
    }
    const auto rs = static_cast<float>(1.0 / sqrt(warp_sum(squares) / static_cast<double>(d) + eps));
    for (std::int64_t c = lane; c < d; c += kWarp) yr[c] = (xr[c] - m) * rs * gamma[c] + beta[c];
    if (lane == 0) {
      mean[r] = m;
      rstd[r] = rs;
    }
  }
}

void layer_norm_cuda(const Resources& res, const TensorView& x, const TensorView& gamma, const TensorView& beta,
                     float eps, TensorView y, TensorView mean, TensorView rstd) {
  const std::int64_t n = mean.numel(), d = gamma.numel();
  if (n == 0) return;
  layer_norm_kernel<<<row_blocks(n), kThreads, 0, stream_of(res)>>>(
      x.data_as<float>(), gamma.data_as<float>(), beta.data_as<float>(), eps, y.data_as<float>(),
      mean.data_as<float>(), rstd.data_as<float>(), n, d);
  RF_CUDA_CHECK_LAST();
}

// dx += rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * gamma, xhat = (x - mean) * rstd.
__global__ void layer_norm_backward_dx_kernel(const float* x, const float* gamma, const float* mean,
                                              const float* rstd, const float* dy, float* dx, std::int64_t n,
                                              std::int64_t d) {
  const int lane = lane_index();
  for (std::int64_t r = warp_index(); r < n; r += warp_count()) {
    const float* xr = x + r * d;
    const float* gr = dy + r * d;
    float* dr = dx + r * d;
    const float m = mean[r], rs = rstd[r];
    double sum_g = 0.0, sum_gx = 0.0;  // double, as on the CPU
    for (std::int64_t c = lane; c < d; c += kWarp) {
      const float g = gr[c] * gamma[c];
      sum_g += g;
      sum_gx += static_cast<double>(g) * ((xr[c] - m) * rs);
    }
    const auto mean_g = static_cast<float>(warp_sum(sum_g) / static_cast<double>(d));
    const auto mean_gx = static_cast<float>(warp_sum(sum_gx) / static_cast<double>(d));
    for (std::int64_t c = lane; c < d; c += kWarp) {
      const float g = gr[c] * gamma[c];
      const float xhat = (xr[c] - m) * rs;
      dr[c] += rs * (g - mean_g - xhat * mean_gx);
    }
  }
}

void layer_norm_backward_cuda(const Resources& res, const TensorView& x, const TensorView& gamma,
                              const TensorView& mean, const TensorView& rstd, const TensorView& dy, TensorView dx,
                              TensorView dgamma, TensorView dbeta) {
  const std::int64_t n = mean.numel(), d = gamma.numel();
  if (n == 0 || d == 0) return;
  layer_norm_backward_dx_kernel<<<row_blocks(n), kThreads, 0, stream_of(res)>>>(
      x.data_as<float>(), gamma.data_as<float>(), mean.data_as<float>(), rstd.data_as<float>(), dy.data_as<float>(),
      dx.data_as<float>(), n, d);
  RF_CUDA_CHECK_LAST();
  // Parameter gradients: deterministic column sums (no atomics across rows).
  column_sums_accumulate(res,
                         RowValueTimesXhat{dy.data_as<float>(), x.data_as<float>(), mean.data_as<float>(),
                                           rstd.data_as<float>()},
                         n, d, dgamma.data_as<float>());
  column_sums_accumulate(res, RowValue{dy.data_as<float>()}, n, d, dbeta.data_as<float>());
}

__global__ void l2_normalize_rows_kernel(const float* x, float eps, float* y, float* norms, std::int64_t n,
                                         std::int64_t d) {
  const int lane = lane_index();
  for (std::int64_t r = warp_index(); r < n; r += warp_count()) {
    const float* xr = x + r * d;
    float* yr = y + r * d;
    double squares = 0.0;  // double, as on the CPU
    for (std::int64_t c = lane; c < d; c += kWarp) squares += static_cast<double>(xr[c]) * xr[c];
    const float length = static_cast<float>(sqrt(warp_sum(squares)));
    const float norm = length < eps ? eps : length;  // std::max as on the CPU: a NaN row stays NaN (fmaxf gives eps)
    for (std::int64_t c = lane; c < d; c += kWarp) yr[c] = xr[c] / norm;
    if (lane == 0) norms[r] = norm;
  }
}

void l2_normalize_rows_cuda(const Resources& res, const TensorView& x, float eps, TensorView y, TensorView norms) {
  const std::int64_t n = norms.numel();
  if (n == 0) return;
  l2_normalize_rows_kernel<<<row_blocks(n), kThreads, 0, stream_of(res)>>>(
      x.data_as<float>(), eps, y.data_as<float>(), norms.data_as<float>(), n, x.numel() / n);
  RF_CUDA_CHECK_LAST();
}

// The clamp test uses the true norm recomputed from x (in double, rounded to
// float, as the CPU does), in the same pass as y . dy.
__global__ void l2_normalize_rows_backward_kernel(const float* x, const float* y, const float* norms, float eps,
                                                  const float* dy, float* dx, std::int64_t n, std::int64_t d) {
  const int lane = lane_index();
  for (std::int64_t r = warp_index(); r < n; r += warp_count()) {
    const float* xr = x + r * d;
    const float* yr = y + r * d;
    const float* gr = dy + r * d;
    float* dr = dx + r * d;
    double squares = 0.0;
    float dot = 0.0f;
    for (std::int64_t c = lane; c < d; c += kWarp) {
      squares += static_cast<double>(xr[c]) * xr[c];
      dot += yr[c] * gr[c];
    }
    squares = warp_sum(squares);
    dot = warp_sum(dot);
    if (!(static_cast<float>(sqrt(squares)) <= eps)) {  // the CPU's test: a NaN row stays NaN
      const float norm = norms[r];
      for (std::int64_t c = lane; c < d; c += kWarp) dr[c] += (gr[c] - yr[c] * dot) / norm;
    } else {  // clamped: y = x / eps is linear in x
      for (std::int64_t c = lane; c < d; c += kWarp) dr[c] += gr[c] / eps;
    }
  }
}

void l2_normalize_rows_backward_cuda(const Resources& res, const TensorView& x, const TensorView& y,
                                     const TensorView& norms, float eps, const TensorView& dy, TensorView dx) {
  const std::int64_t n = norms.numel();
  if (n == 0) return;
  l2_normalize_rows_backward_kernel<<<row_blocks(n), kThreads, 0, stream_of(res)>>>(
      x.data_as<float>(), y.data_as<float>(), norms.data_as<float>(), eps, dy.data_as<float>(), dx.data_as<float>(),
      n, x.numel() / n);
  RF_CUDA_CHECK_LAST();
}

// ---- dropout -------------------------------------------------------------

// Element i is kept iff philox_uniform(seed, stream, offset + i) >= p (the CPU's exact test).
// Dropped elements are written as 0 without multiplying, so p = 1 (scale = inf) gives zeros, not NaN.
// `mask` (may be null) records the decision for the backward.
__global__ void dropout_kernel(const float* x, float p, float scale, DropoutKey key, float* y, std::uint8_t* mask,
                               std::int64_t n) {
  for (std::int64_t i = thread_index(); i < n; i += thread_count()) {
    const bool kept = philox_uniform(key.seed, key.stream, key.offset + static_cast<std::uint64_t>(i)) >= p;
    y[i] = kept ? x[i] * scale : 0.0f;
    if (mask != nullptr) mask[i] = kept ? 1 : 0;
  }
}

// With a stored mask the decision is read, else recomputed from the key.
__global__ void dropout_backward_kernel(const float* dy, float p, float scale, DropoutKey key,
                                        const std::uint8_t* mask, float* dx, std::int64_t n, bool accumulate) {
  for (std::int64_t i = thread_index(); i < n; i += thread_count()) {
    const bool kept = mask != nullptr
                          ? mask[i] != 0
                          : philox_uniform(key.seed, key.stream, key.offset + static_cast<std::uint64_t>(i)) >= p;
    if (accumulate) {
      dx[i] += kept ? dy[i] * scale : 0.0f;  // as the CPU: -0 + 0 is +0
    } else {
      dx[i] = kept ? dy[i] * scale : 0.0f;
    }
  }
}

void dropout_cuda(const Resources& res, const TensorView& x, float p, const DropoutKey& key, TensorView y,
                  TensorView mask) {
  const std::int64_t n = x.numel();
  if (n == 0) return;
  const float scale = 1.0f / (1.0f - p);
  dropout_kernel<<<element_blocks(n), kThreads, 0, stream_of(res)>>>(
      x.data_as<float>(), p, scale, key, y.data_as<float>(), static_cast<std::uint8_t*>(mask.data), n);
  RF_CUDA_CHECK_LAST();
}

void dropout_backward_cuda(const Resources& res, const TensorView& dy, float p, const DropoutKey& key,
                           const TensorView& mask, TensorView dx, bool accumulate) {
  const std::int64_t n = dy.numel();
  if (n == 0) return;
  const float scale = 1.0f / (1.0f - p);
  dropout_backward_kernel<<<element_blocks(n), kThreads, 0, stream_of(res)>>>(
      dy.data_as<float>(), p, scale, key, static_cast<const std::uint8_t*>(mask.data), dx.data_as<float>(), n,
      accumulate);
  RF_CUDA_CHECK_LAST();
}

}  // namespace

RF_REGISTER_KERNEL(activation_forward, kCUDA, activation_forward_cuda);
RF_REGISTER_KERNEL(activation_backward, kCUDA, activation_backward_cuda);
RF_REGISTER_KERNEL(binary, kCUDA, binary_cuda);
RF_REGISTER_KERNEL(axpy, kCUDA, axpy_cuda);
RF_REGISTER_KERNEL(mul_accumulate, kCUDA, mul_accumulate_cuda);
RF_REGISTER_KERNEL(scale, kCUDA, scale_cuda);
RF_REGISTER_KERNEL(bias_add, kCUDA, bias_add_cuda);
RF_REGISTER_KERNEL(sum_rows_accumulate, kCUDA, sum_rows_accumulate_cuda);
RF_REGISTER_KERNEL(rowwise_dot, kCUDA, rowwise_dot_cuda);
RF_REGISTER_KERNEL(scale_rows_accumulate, kCUDA, scale_rows_accumulate_cuda);
RF_REGISTER_KERNEL(copy_columns, kCUDA, copy_columns_cuda);
RF_REGISTER_KERNEL(sum_all, kCUDA, sum_all_cuda);
RF_REGISTER_KERNEL(broadcast_accumulate, kCUDA, broadcast_accumulate_cuda);
RF_REGISTER_KERNEL(bce_with_logits, kCUDA, bce_with_logits_cuda);
RF_REGISTER_KERNEL(bce_with_logits_backward, kCUDA, bce_with_logits_backward_cuda);
RF_REGISTER_KERNEL(softmax_cross_entropy, kCUDA, softmax_cross_entropy_cuda);
RF_REGISTER_KERNEL(softmax_cross_entropy_backward, kCUDA, softmax_cross_entropy_backward_cuda);
RF_REGISTER_KERNEL(softmax_rows, kCUDA, softmax_rows_cuda);
RF_REGISTER_KERNEL(softmax_rows_backward, kCUDA, softmax_rows_backward_cuda);
RF_REGISTER_KERNEL(layer_norm, kCUDA, layer_norm_cuda);
RF_REGISTER_KERNEL(layer_norm_backward, kCUDA, layer_norm_backward_cuda);
RF_REGISTER_KERNEL(l2_normalize_rows, kCUDA, l2_normalize_rows_cuda);
RF_REGISTER_KERNEL(l2_normalize_rows_backward, kCUDA, l2_normalize_rows_backward_cuda);
RF_REGISTER_KERNEL(dropout, kCUDA, dropout_cuda);
RF_REGISTER_KERNEL(dropout_backward, kCUDA, dropout_backward_cuda);

}  // namespace recforge::kernels
