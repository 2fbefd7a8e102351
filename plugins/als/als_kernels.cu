// CUDA kernels for ALS (equations in als_kernels.hpp; CPU reference in
// als_kernels_cpu.cpp).
//
// Note [ALS CG on a warp]
// One warp solves one row. Lane l holds elements l, l + 32, ... of x, r and the
// search direction (kPerLane = ceil(D / 32) registers each). A v needs all of v
// for the G v term, so the warp stages v in shared memory; y_i . v is a warp
// reduction with shuffles. Observed columns are visited in order, so each row's
// arithmetic is independent of the launch shape.
#include <cublas_v2.h>

#include <numeric>
#include <vector>

#include "als_kernels.hpp"
#include "recforge/core/tensor.hpp"
#include "recforge/cuda/check.cuh"
#include "recforge/cuda/launch.cuh"

namespace recforge::als {
namespace {

constexpr std::int64_t kGramBlock = 4096;  // the CPU kernel's block: the same summation structure
constexpr int kWarpsPerBlock = 4;
constexpr std::int64_t kMaxDim = 256;

cudaStream_t stream_of(const Resources& res) { return static_cast<cudaStream_t>(res.stream().native()); }

__global__ void sum_partials_kernel(const float* partial, std::int64_t blocks, std::int64_t d, float* gram, std::int64_t ld) {
  const std::int64_t i = blockIdx.x, j = threadIdx.x + static_cast<std::int64_t>(blockIdx.y) * blockDim.x;
  if (i >= d || j >= d || j < i) return;
  float s = 0.0f;
  for (std::int64_t b = 0; b < blocks; ++b) s += partial[b * d * d + j * d + i];  // column-major upper of each block
  gram[i * ld + j] = s;
  gram[j * ld + i] = s;
}

void gram_cuda(const Resources& res, const TensorView& factors, TensorView out) {
  const std::int64_t n = factors.shape[0], d = factors.shape[1];
  if (d == 0) return;  // an empty (0, 0) Gram matrix: no grid to launch
  const std::int64_t blocks = std::max<std::int64_t>(1, (n + kGramBlock - 1) / kGramBlock);
  Tensor partial = Tensor::zeros({blocks, d, d}, DType::kF32, res.device(), res.stream());
  const auto handle = static_cast<cublasHandle_t>(res.cublas_handle());
  const float one = 1.0f, zero = 0.0f;
  for (std::int64_t b = 0; b * kGramBlock < n; ++b) {
    const std::int64_t rows = std::min(kGramBlock, n - b * kGramBlock);
    // Row-major (rows, D) is column-major (D, rows): Y^T Y = A A^T with A = that matrix.
    RF_CUBLAS_CHECK(cublasSsyrk(handle, CUBLAS_FILL_MODE_UPPER, CUBLAS_OP_N, static_cast<int>(d), static_cast<int>(rows),
                                &one, factors.data_as<float>() + b * kGramBlock * d, static_cast<int>(d), &zero,
                                partial.data_as<float>() + b * d * d, static_cast<int>(d)));
  }
  const dim3 grid(static_cast<unsigned>(d), static_cast<unsigned>((d + 127) / 128));
  sum_partials_kernel<<<grid, 128, 0, stream_of(res)>>>(partial.data_as<float>(), blocks, d, out.data_as<float>(), out.strides[0]);
  RF_CUDA_CHECK_LAST();
}

struct DeviceProblem {
  float* factors;
  const float* other;
  const float* gram;
  const std::int64_t* offsets;
  const std::int32_t* cols;
  const float* weights;
  const float* targets;
  std::int64_t row_begin, row_end, d, n_other;
  float a0, reg, nu;
  int cg_steps;
  bool data_term;
};

DeviceProblem device_problem(const Problem& p, const Options& o) {
  return DeviceProblem{p.factors.data_as<float>(),
                       p.other.data_as<float>(),
                       o.unobserved_weight != 0.0f ? p.gram.data_as<float>() : nullptr,
                       p.offsets.data_as<std::int64_t>(),
                       p.cols.data_as<std::int32_t>(),
                       p.weights.numel() ? p.weights.data_as<float>() : nullptr,
                       p.targets.numel() ? p.targets.data_as<float>() : nullptr,
                       p.row_begin,
                       p.row_end,
                       p.factors.shape[1],
                       p.other.shape[0],
                       o.unobserved_weight,
                       o.reg,
                       o.reg_exponent,
                       o.cg_steps,
                       o.data_term};
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

__device__ __forceinline__ float row_reg(const DeviceProblem& p, std::int64_t n_u) {
  return p.nu == 0.0f ? p.reg : p.reg * powf(static_cast<float>(n_u) + p.a0 * static_cast<float>(p.n_other), p.nu);
}

// out = A v for row u; v is staged in `shared_v` by the caller.
template <int kPerLane>
__device__ void apply_a(const DeviceProblem& p, std::int64_t begin, std::int64_t end, float l, const float* shared_v,
                        const float (&v)[kPerLane], float (&out)[kPerLane], int lane) {
  for (int j = 0; j < kPerLane; ++j) {
    const std::int64_t r = lane + 32 * j;
    float s = 0.0f;
    if (r < p.d && p.gram) {
      for (std::int64_t c = 0; c < p.d; ++c) s += __ldg(p.gram + r * p.d + c) * shared_v[c];
      s *= p.a0;
    }
    out[j] = r < p.d ? s + l * v[j] : 0.0f;
  }
  for (std::int64_t k = begin; k < end; ++k) {
    const float* y = p.other + static_cast<std::int64_t>(p.cols[k]) * p.d;
    float partial = 0.0f;
    for (int j = 0; j < kPerLane; ++j) {
      const std::int64_t r = lane + 32 * j;
      if (r < p.d) partial += __ldg(y + r) * v[j];
    }
    const float w = (p.weights ? p.weights[k] : 1.0f) - p.a0;
    const float t = warp_sum(partial) * w;
    for (int j = 0; j < kPerLane; ++j) {
      const std::int64_t r = lane + 32 * j;
      if (r < p.d) out[j] += t * __ldg(y + r);
    }
  }
}

template <int kPerLane>
__device__ float warp_dot(const float (&a)[kPerLane], const float (&b)[kPerLane]) {
  float s = 0.0f;
  for (int j = 0; j < kPerLane; ++j) s += a[j] * b[j];
  return warp_sum(s);
}

template <int kPerLane>
__global__ void cg_kernel(DeviceProblem p) {
  __shared__ float stage[kWarpsPerBlock][32 * kPerLane];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const std::int64_t u = p.row_begin + static_cast<std::int64_t>(blockIdx.x) * kWarpsPerBlock + warp;
  if (u >= p.row_end) return;
  const std::int64_t begin = p.offsets[u], end = p.offsets[u + 1];
  const float l = row_reg(p, end - begin);
  float* x_row = p.factors + u * p.d;
  float x[kPerLane], r[kPerLane], dir[kPerLane], ad[kPerLane];
  for (int j = 0; j < kPerLane; ++j) {
    const std::int64_t k = lane + 32 * j;
    x[j] = k < p.d ? x_row[k] : 0.0f;
    stage[warp][lane + 32 * j] = x[j];
  }
  __syncwarp();
  apply_a<kPerLane>(p, begin, end, l, stage[warp], x, ad, lane);
  for (int j = 0; j < kPerLane; ++j) r[j] = -ad[j];
  for (std::int64_t k = begin; k < end; ++k) {
    const float* y = p.other + static_cast<std::int64_t>(p.cols[k]) * p.d;
    const float coef = (p.weights ? p.weights[k] : 1.0f) * (p.targets ? p.targets[k] : 1.0f);
    for (int j = 0; j < kPerLane; ++j) {
      const std::int64_t c = lane + 32 * j;
      if (c < p.d) r[j] += coef * __ldg(y + c);
    }
  }
  for (int j = 0; j < kPerLane; ++j) dir[j] = r[j];
  float rs = warp_dot<kPerLane>(r, r);
  for (int step = 0; step < p.cg_steps && rs > 1e-20f; ++step) {
    __syncwarp();
    for (int j = 0; j < kPerLane; ++j) stage[warp][lane + 32 * j] = dir[j];
    __syncwarp();
    apply_a<kPerLane>(p, begin, end, l, stage[warp], dir, ad, lane);
    const float alpha = rs / warp_dot<kPerLane>(dir, ad);
    for (int j = 0; j < kPerLane; ++j) {
      x[j] += alpha * dir[j];
      r[j] -= alpha * ad[j];
    }
    const float rs_new = warp_dot<kPerLane>(r, r);
    const float beta = rs_new / rs;
    for (int j = 0; j < kPerLane; ++j) dir[j] = r[j] + beta * dir[j];
    rs = rs_new;
  }
  for (int j = 0; j < kPerLane; ++j) {
    const std::int64_t k = lane + 32 * j;
    if (k < p.d) x_row[k] = x[j];
  }
}

void cg_cuda(const Resources& res, const Problem& problem, const Options& o) {
  const DeviceProblem p = device_problem(problem, o);
  RF_CHECK(p.d <= kMaxDim, "als_solve_cg: the CUDA kernel supports D <= ", kMaxDim, ", got ", p.d);
  const std::int64_t rows = p.row_end - p.row_begin;
  if (rows == 0) return;
  const unsigned blocks = static_cast<unsigned>((rows + kWarpsPerBlock - 1) / kWarpsPerBlock);
  const auto launch = [&](auto kernel) { kernel<<<blocks, kWarpsPerBlock * 32, 0, stream_of(res)>>>(p); };
  if (p.d <= 32) launch(cg_kernel<1>);
  else if (p.d <= 64) launch(cg_kernel<2>);
  else if (p.d <= 128) launch(cg_kernel<4>);
  else launch(cg_kernel<8>);
  RF_CUDA_CHECK_LAST();
}

constexpr std::int64_t kCholeskyMaxDim = 128;
constexpr int kCholeskyThreads = 256;

// One block per row: A (D x D) and b in shared memory, right-looking Cholesky.
// A row whose pivot is not positive keeps its factors (as on the CPU) and is
// reported: `failed` holds the largest such row + 1.
__global__ void cholesky_kernel(DeviceProblem p, int* failed) {
  extern __shared__ float smem[];
  __shared__ bool row_failed;
  const std::int64_t d = p.d;
  float* a = smem;
  float* b = smem + d * d;
  const std::int64_t u = p.row_begin + blockIdx.x;
  if (u >= p.row_end) return;
  const std::int64_t begin = p.offsets[u], end = p.offsets[u + 1];
  const float l = row_reg(p, end - begin);
  for (std::int64_t e = threadIdx.x; e < d * d; e += blockDim.x) {
    const std::int64_t r = e / d, c = e % d;
    float s = p.gram ? p.a0 * p.gram[e] : 0.0f;
    if (r == c) s += l;
    for (std::int64_t k = begin; k < end; ++k) {
      const float* y = p.other + static_cast<std::int64_t>(p.cols[k]) * d;
      s += ((p.weights ? p.weights[k] : 1.0f) - p.a0) * y[r] * y[c];
    }
    a[e] = s;
  }
  for (std::int64_t r = threadIdx.x; r < d; r += blockDim.x) {
    float s = 0.0f;
    for (std::int64_t k = begin; k < end; ++k) {
      s += (p.weights ? p.weights[k] : 1.0f) * (p.targets ? p.targets[k] : 1.0f) *
           p.other[static_cast<std::int64_t>(p.cols[k]) * d + r];
    }
    b[r] = s;
  }
  if (threadIdx.x == 0) row_failed = false;
  __syncthreads();
  for (std::int64_t j = 0; j < d; ++j) {
    if (threadIdx.x == 0) {
      const float diag = a[j * d + j];
      if (!(diag > 0.0f) && !row_failed) {
        row_failed = true;
        atomicMax(failed, static_cast<int>(u) + 1);
      }
      a[j * d + j] = sqrtf(fmaxf(diag, 1e-30f));
    }
    __syncthreads();
    for (std::int64_t i = j + 1 + threadIdx.x; i < d; i += blockDim.x) a[i * d + j] /= a[j * d + j];
    __syncthreads();
    for (std::int64_t e = threadIdx.x; e < (d - j - 1) * (d - j - 1); e += blockDim.x) {
      const std::int64_t i = j + 1 + e / (d - j - 1), k = j + 1 + e % (d - j - 1);
      if (k <= i) a[i * d + k] -= a[i * d + j] * a[k * d + j];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {  // the two triangular solves are sequential in D
    for (std::int64_t i = 0; i < d; ++i) {
      float s = b[i];
      for (std::int64_t k = 0; k < i; ++k) s -= a[i * d + k] * b[k];
      b[i] = s / a[i * d + i];
    }
    for (std::int64_t i = d - 1; i >= 0; --i) {
      float s = b[i];
      for (std::int64_t k = i + 1; k < d; ++k) s -= a[k * d + i] * b[k];
      b[i] = s / a[i * d + i];
    }
  }
  __syncthreads();
  if (row_failed) return;
  for (std::int64_t r = threadIdx.x; r < d; r += blockDim.x) p.factors[u * d + r] = b[r];
}

void cholesky_cuda(const Resources& res, const Problem& problem, const Options& o) {
  const DeviceProblem p = device_problem(problem, o);
  RF_CHECK(p.d <= kCholeskyMaxDim, "als_solve_cholesky: the CUDA kernel supports D <= ", kCholeskyMaxDim, ", got ",
           p.d, " (use solver: cg)");
  const std::int64_t rows = p.row_end - p.row_begin;
  if (rows == 0) return;
  const std::size_t bytes = static_cast<std::size_t>((p.d * p.d + p.d) * sizeof(float));
  RF_CUDA_CHECK(cudaFuncSetAttribute(cholesky_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
  Tensor failed = Tensor::zeros({1}, DType::kI32, res.device(), res.stream());
  cholesky_kernel<<<static_cast<unsigned>(rows), kCholeskyThreads, bytes, stream_of(res)>>>(p, failed.data_as<std::int32_t>());
  RF_CUDA_CHECK_LAST();
  int host = 0;
  RF_CUDA_CHECK(cudaMemcpyAsync(&host, failed.data(), sizeof host, cudaMemcpyDeviceToHost, stream_of(res)));
  RF_CUDA_CHECK(cudaStreamSynchronize(stream_of(res)));
  RF_CHECK_KIND(ErrorKind::kNumerical, host == 0, "als: the normal equations of row ", host - 1,
                " are not positive definite (reg = 0 with too few interactions?)");
}

// One warp per row; each row's term goes to its own slot (row_terms[u - row_begin]).
__global__ void loss_kernel(DeviceProblem p, double* row_terms) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const std::int64_t u = p.row_begin + static_cast<std::int64_t>(blockIdx.x) * kWarpsPerBlock + warp;
  if (u >= p.row_end) return;
  const float* x = p.factors + u * p.d;
  double value = 0;
  if (p.gram && p.data_term) {
    double xgx = 0;
    for (std::int64_t r = lane; r < p.d; r += 32) {
      double gx = 0;
      for (std::int64_t c = 0; c < p.d; ++c) gx += static_cast<double>(p.gram[r * p.d + c]) * x[c];
      xgx += x[r] * gx;
    }
    value += p.a0 * xgx;
  }
  const std::int64_t begin = p.offsets[u], end = p.offsets[u + 1];
  for (std::int64_t k = begin; p.data_term && k < end; ++k) {
    const float* y = p.other + static_cast<std::int64_t>(p.cols[k]) * p.d;
    float partial = 0.0f;
    for (std::int64_t r = lane; r < p.d; r += 32) partial += x[r] * y[r];
    const double s = warp_sum(partial);
    const double w = p.weights ? p.weights[k] : 1.0, t = p.targets ? p.targets[k] : 1.0;
    if (lane == 0) value += w * (t - s) * (t - s) - p.a0 * s * s;
  }
  double norm = 0;
  for (std::int64_t r = lane; r < p.d; r += 32) norm += static_cast<double>(x[r]) * x[r];
  value += row_reg(p, end - begin) * norm;
  for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_xor_sync(0xffffffffu, value, offset);
  if (lane == 0) row_terms[u - p.row_begin] = value;
}

double loss_cuda(const Resources& res, const Problem& problem, const Options& o) {
  const DeviceProblem p = device_problem(problem, o);
  const std::int64_t rows = p.row_end - p.row_begin;
  if (rows == 0) return 0.0;
  // The rows' terms are added on the host in row order, not by atomics on the
  // device: the logged loss then has the same bits run to run.
  Tensor terms = Tensor::empty({rows}, DType::kI64, res.device(), res.stream());  // 8 bytes per double
  loss_kernel<<<static_cast<unsigned>((rows + kWarpsPerBlock - 1) / kWarpsPerBlock), kWarpsPerBlock * 32, 0, stream_of(res)>>>(
      p, static_cast<double*>(terms.data()));
  RF_CUDA_CHECK_LAST();
  std::vector<double> host(static_cast<std::size_t>(rows));
  RF_CUDA_CHECK(cudaMemcpyAsync(host.data(), terms.data(), sizeof(double) * host.size(), cudaMemcpyDeviceToHost,
                                stream_of(res)));
  RF_CUDA_CHECK(cudaStreamSynchronize(stream_of(res)));
  return std::accumulate(host.begin(), host.end(), 0.0);
}

}  // namespace

RF_REGISTER_KERNEL(als_gram, kCUDA, gram_cuda);
RF_REGISTER_KERNEL(als_solve_cg, kCUDA, cg_cuda);
RF_REGISTER_KERNEL(als_solve_cholesky, kCUDA, cholesky_cuda);
RF_REGISTER_KERNEL(als_loss, kCUDA, loss_cuda);

}  // namespace recforge::als
