// CUDA fused causal attention (see fused_attention.hpp). One thread block per
// (sequence, head); the head's L x dh operands that every row reads sit in
// shared memory (rows padded to dh + 1 floats: no bank conflicts when lanes
// walk rows), each warp takes rows of its own.
//   forward    K, V shared; a warp per query row: scores (lanes over keys),
//              softmax in registers/shared, dropout, then lanes over columns for P V
//   backward   two passes that each own their outputs (no atomics):
//              dq   query-major, K and V shared: dS of a row, then dS K
//              dkdv key-major, Q and dO shared: 32 queries at a time per key,
//                   then lanes over columns accumulate P~^T dO and dS^T Q
// Weights are recomputed from the forward's log-sum-exp, never stored.
#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <atomic>

#include "recforge/core/philox.hpp"
#include "recforge/core/tensor.hpp"
#include "recforge/cuda/check.cuh"
#include "recforge/kernels/fused_attention.hpp"

namespace recforge::kernels {
namespace {

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;
constexpr int kMaxColumnsPerLane = static_cast<int>(kFusedAttentionMaxHeadDim / 32);

cudaStream_t stream_of(const Resources& res) { return static_cast<cudaStream_t>(res.stream().native()); }

struct Geometry {
  int l, d, dh, heads, ld;  // ld: shared row stride, dh + 1
  float scale, dropout, keep_scale;
  DropoutKey key;
  const std::int32_t* sequence_begin;  // nullptr: every position holds an item
  // The first position of `sequence` holding an item: queries before it are
  // skipped, keys before it masked (padding).
  __device__ int begin(int sequence) const {
    if (sequence_begin == nullptr) return 0;
    const int b = sequence_begin[sequence];
    return b < 0 ? 0 : (b > l ? l : b);
  }
  __device__ std::int64_t at(int sequence, int head, int i) const {
    return (static_cast<std::int64_t>(sequence) * l + i) * d + static_cast<std::int64_t>(head) * dh;
  }
  // The dropout factor of weight (i, j): 0 or 1 / (1 - p), keyed as the composed op.
  __device__ float factor(int sequence, int head, int i, int j) const {
    if (dropout <= 0.0f) return 1.0f;
    const std::uint64_t index = key.offset + (static_cast<std::uint64_t>(sequence) * l + i) * l + j;
    return philox_uniform(key.seed, key.stream + head, index) >= dropout ? keep_scale : 0.0f;
  }
};

__device__ float warp_sum(float x) {
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}
__device__ float warp_max(float x) {
  for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
  return x;
}

// Copies a head's L x dh rows from global (row stride d) to shared (stride ld).
__device__ void load_head(const float* src, const Geometry& g, int sequence, int head, float* dst) {
  for (int e = threadIdx.x; e < g.l * g.dh; e += blockDim.x) {
    const int i = e / g.dh, c = e % g.dh;
    dst[i * g.ld + c] = src[g.at(sequence, head, i) + c];
  }
}

__device__ float dot_shared(const float* a, const float* b, int n) {
  float s = 0.0f;
  for (int c = 0; c < n; ++c) s += a[c] * b[c];
  return s;
}

__global__ void forward_kernel(const float* q, const float* k, const float* v, Geometry g, float* out, float* lse) {
  extern __shared__ float shared[];
  float* ks = shared;
  float* vs = ks + g.l * g.ld;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  float* qrow = vs + g.l * g.ld + warp * g.dh;
  float* prow = vs + g.l * g.ld + kWarps * g.dh + warp * g.l;
  const int sequence = blockIdx.x / g.heads, head = blockIdx.x % g.heads;
  load_head(k, g, sequence, head, ks);
  load_head(v, g, sequence, head, vs);
  __syncthreads();
  const int begin = g.begin(sequence);
  for (int i = warp; i < g.l; i += kWarps) {
    if (i < begin) {  // a skipped row: warp-uniform
      for (int c = lane; c < g.dh; c += 32) out[g.at(sequence, head, i) + c] = 0.0f;
      if (lane == 0) lse[(static_cast<std::int64_t>(sequence) * g.l + i) * g.heads + head] = 0.0f;
      continue;
    }
    for (int c = lane; c < g.dh; c += 32) qrow[c] = q[g.at(sequence, head, i) + c];
    __syncwarp();
    float top = -INFINITY;
    for (int j = begin + lane; j <= i; j += 32) {  // keys [begin, i]: padding and the future masked
      const float s = g.scale * dot_shared(qrow, ks + j * g.ld, g.dh);
      prow[j] = s;
      top = fmaxf(top, s);
    }
    top = warp_max(top);
    float total = 0.0f;
    for (int j = begin + lane; j <= i; j += 32) {
      const float e = __expf(prow[j] - top);
      prow[j] = e;
      total += e;
    }
    total = warp_sum(total);
    if (lane == 0) lse[(static_cast<std::int64_t>(sequence) * g.l + i) * g.heads + head] = top + logf(total);
    const float inv = 1.0f / total;
    for (int j = begin + lane; j <= i; j += 32) prow[j] *= inv * g.factor(sequence, head, i, j);
    __syncwarp();
    for (int c = lane; c < g.dh; c += 32) {
      float acc = 0.0f;
      for (int j = begin; j <= i; ++j) acc += prow[j] * vs[j * g.ld + c];
      out[g.at(sequence, head, i) + c] = acc;
    }
    __syncwarp();
  }
}

// dq += scale * dS K per query row; also writes D_i = dO_i . O_i for the dkdv pass.
__global__ void backward_dq_kernel(const float* q, const float* k, const float* v, const float* out,
                                   const float* lse, const float* dout, Geometry g, float* dq, float* row_dot) {
  extern __shared__ float shared[];
  float* ks = shared;
  float* vs = ks + g.l * g.ld;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  float* qrow = vs + g.l * g.ld + warp * 2 * g.dh;
  float* dorow = qrow + g.dh;
  float* dsrow = vs + g.l * g.ld + kWarps * 2 * g.dh + warp * g.l;
  const int sequence = blockIdx.x / g.heads, head = blockIdx.x % g.heads;
  load_head(k, g, sequence, head, ks);
  load_head(v, g, sequence, head, vs);
  __syncthreads();
  const int begin = g.begin(sequence);
  for (int i = warp; i < g.l; i += kWarps) {
    const std::int64_t at = g.at(sequence, head, i);
    if (i < begin) {  // a skipped row passes no gradient (warp-uniform)
      if (lane == 0) row_dot[(static_cast<std::int64_t>(sequence) * g.l + i) * g.heads + head] = 0.0f;
      continue;
    }
    float partial = 0.0f;
    for (int c = lane; c < g.dh; c += 32) {
      qrow[c] = q[at + c];
      dorow[c] = dout[at + c];
      partial += dout[at + c] * out[at + c];
    }
    const float d_i = warp_sum(partial);
    const std::int64_t slot = (static_cast<std::int64_t>(sequence) * g.l + i) * g.heads + head;
    if (lane == 0) row_dot[slot] = d_i;
    const float row_lse = lse[slot];
    __syncwarp();
    for (int j = begin + lane; j <= i; j += 32) {
      const float p = __expf(g.scale * dot_shared(qrow, ks + j * g.ld, g.dh) - row_lse);
      const float dp = dot_shared(dorow, vs + j * g.ld, g.dh);
      dsrow[j] = g.scale * p * (dp * g.factor(sequence, head, i, j) - d_i);
    }
    __syncwarp();
    for (int c = lane; c < g.dh; c += 32) {
      float acc = 0.0f;
      for (int j = begin; j <= i; ++j) acc += dsrow[j] * ks[j * g.ld + c];
      dq[at + c] += acc;
    }
    __syncwarp();
  }
}

// dk += dS^T Q and dv += P~^T dO per key row, 32 queries per round.
__global__ void backward_dkdv_kernel(const float* q, const float* k, const float* v, const float* lse,
                                     const float* dout, const float* row_dot, Geometry g, float* dk, float* dv) {
  extern __shared__ float shared[];
  float* qs = shared;
  float* dos = qs + g.l * g.ld;
  float* lses = dos + g.l * g.ld;
  float* dots = lses + g.l;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  float* krow = dots + g.l + warp * (2 * g.dh + 64);
  float* vrow = krow + g.dh;
  float* pf = vrow + g.dh;
  float* ds = pf + 32;
  const int sequence = blockIdx.x / g.heads, head = blockIdx.x % g.heads;
  load_head(q, g, sequence, head, qs);
  load_head(dout, g, sequence, head, dos);
  for (int i = threadIdx.x; i < g.l; i += blockDim.x) {
    const std::int64_t slot = (static_cast<std::int64_t>(sequence) * g.l + i) * g.heads + head;
    lses[i] = lse[slot];
    dots[i] = row_dot[slot];
  }
  __syncthreads();
  const int begin = g.begin(sequence);
  for (int j = begin + warp; j < g.l; j += kWarps) {  // a masked padding key gets no gradient
    const std::int64_t at = g.at(sequence, head, j);
    for (int c = lane; c < g.dh; c += 32) {
      krow[c] = k[at + c];
      vrow[c] = v[at + c];
    }
    float dk_acc[kMaxColumnsPerLane] = {}, dv_acc[kMaxColumnsPerLane] = {};
    __syncwarp();
    for (int i0 = j; i0 < g.l; i0 += 32) {
      const int i = i0 + lane;
      float weight = 0.0f, grad = 0.0f;
      if (i < g.l && i >= begin) {  // skipped query rows pass no gradient (their lse is not a real one)
        const float p = __expf(g.scale * dot_shared(qs + i * g.ld, krow, g.dh) - lses[i]);
        const float f = g.factor(sequence, head, i, j);
        const float dp = dot_shared(dos + i * g.ld, vrow, g.dh);
        weight = p * f;
        grad = g.scale * p * (dp * f - dots[i]);
      }
      pf[lane] = weight;
      ds[lane] = grad;
      __syncwarp();
      const int rows = min(32, g.l - i0);
      for (int t = 0; t < kMaxColumnsPerLane; ++t) {
        const int c = lane + 32 * t;
        if (c >= g.dh) break;
        for (int r = 0; r < rows; ++r) {
          dv_acc[t] += pf[r] * dos[(i0 + r) * g.ld + c];
          dk_acc[t] += ds[r] * qs[(i0 + r) * g.ld + c];
        }
      }
      __syncwarp();
    }
    for (int t = 0; t < kMaxColumnsPerLane; ++t) {
      const int c = lane + 32 * t;
      if (c >= g.dh) break;
      dk[at + c] += dk_acc[t];
      dv[at + c] += dv_acc[t];
    }
  }
}

Geometry geometry_of(const TensorView& q, const AttentionOptions& o) {
  Geometry g{};
  g.l = static_cast<int>(q.shape[0] / o.sequences);
  g.d = static_cast<int>(q.shape[1]);
  g.dh = static_cast<int>(q.shape[1] / o.heads);
  g.heads = static_cast<int>(o.heads);
  g.ld = g.dh + 1;
  g.scale = o.scale;
  g.dropout = o.dropout;
  g.keep_scale = o.dropout > 0.0f ? 1.0f / (1.0f - o.dropout) : 1.0f;
  g.key = o.key;
  g.sequence_begin = o.sequence_begin.data != nullptr ? o.sequence_begin.data_as<std::int32_t>() : nullptr;
  return g;
}

// Shared memory of each kernel (floats): K and V (or Q and dO) at row stride
// dh + 1, plus per-warp rows.
std::size_t forward_bytes(std::int64_t l, std::int64_t dh) {
  return sizeof(float) * static_cast<std::size_t>(2 * l * (dh + 1) + kWarps * (dh + l));
}
std::size_t backward_dq_bytes(std::int64_t l, std::int64_t dh) {
  return sizeof(float) * static_cast<std::size_t>(2 * l * (dh + 1) + kWarps * (2 * dh + l));
}
std::size_t backward_dkdv_bytes(std::int64_t l, std::int64_t dh) {
  return sizeof(float) * static_cast<std::size_t>(2 * l * (dh + 1) + 2 * l + kWarps * (2 * dh + 64));
}

// Asked once per device: the fit is checked on every attention call.
int shared_limit(int device) {
  static std::array<std::atomic<int>, 64> known{};  // by device index; 0: not asked yet
  std::atomic<int>& slot = known.at(static_cast<std::size_t>(device));
  int limit = slot.load(std::memory_order_relaxed);
  if (limit == 0) {
    RF_CUDA_CHECK(cudaDeviceGetAttribute(&limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
    slot.store(limit, std::memory_order_relaxed);
  }
  return limit;
}

bool fits_cuda(const Resources& res, std::int64_t l, std::int64_t dh) {
  if (l > kFusedAttentionMaxLength || dh > kFusedAttentionMaxHeadDim) return false;
  const std::size_t most =
      std::max({forward_bytes(l, dh), backward_dq_bytes(l, dh), backward_dkdv_bytes(l, dh)});
  return most <= static_cast<std::size_t>(shared_limit(res.device().index));
}

// Raises the kernel's dynamic shared-memory limit on `res`'s device to `bytes`
// (the entry points checked that the device has them).
template <class Kernel>
void allow_shared(const Resources& res, Kernel kernel, std::size_t bytes) {
  RF_CUDA_CHECK(cudaSetDevice(res.device().index));
  RF_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
}

void fused_causal_attention_cuda(const Resources& res, const TensorView& q, const TensorView& k, const TensorView& v,
                                 const AttentionOptions& o, TensorView out, TensorView lse) {
  const Geometry g = geometry_of(q, o);
  const std::size_t bytes = forward_bytes(g.l, g.dh);
  allow_shared(res, forward_kernel, bytes);
  forward_kernel<<<static_cast<unsigned>(o.sequences * o.heads), kThreads, bytes, stream_of(res)>>>(
      q.data_as<float>(), k.data_as<float>(), v.data_as<float>(), g, out.data_as<float>(), lse.data_as<float>());
  RF_CUDA_CHECK_LAST();
}

void fused_causal_attention_backward_cuda(const Resources& res, const TensorView& q, const TensorView& k,
                                          const TensorView& v, const TensorView& out, const TensorView& lse,
                                          const TensorView& dout, const AttentionOptions& o, TensorView dq,
                                          TensorView dk, TensorView dv) {
  const Geometry g = geometry_of(q, o);
  Tensor row_dot = Tensor::empty({lse.numel()}, DType::kF32, res.allocator(), res.stream());
  const auto blocks = static_cast<unsigned>(o.sequences * o.heads);
  const std::size_t dq_bytes = backward_dq_bytes(g.l, g.dh);
  allow_shared(res, backward_dq_kernel, dq_bytes);
  backward_dq_kernel<<<blocks, kThreads, dq_bytes, stream_of(res)>>>(
      q.data_as<float>(), k.data_as<float>(), v.data_as<float>(), out.data_as<float>(), lse.data_as<float>(),
      dout.data_as<float>(), g, dq.data_as<float>(), row_dot.data_as<float>());
  RF_CUDA_CHECK_LAST();
  const std::size_t dkdv_bytes = backward_dkdv_bytes(g.l, g.dh);
  allow_shared(res, backward_dkdv_kernel, dkdv_bytes);
  backward_dkdv_kernel<<<blocks, kThreads, dkdv_bytes, stream_of(res)>>>(
      q.data_as<float>(), k.data_as<float>(), v.data_as<float>(), lse.data_as<float>(), dout.data_as<float>(),
      row_dot.data_as<float>(), g, dk.data_as<float>(), dv.data_as<float>());
  RF_CUDA_CHECK_LAST();
}

}  // namespace

RF_REGISTER_KERNEL(fused_causal_attention, kCUDA, fused_causal_attention_cuda);
RF_REGISTER_KERNEL(fused_causal_attention_backward, kCUDA, fused_causal_attention_backward_cuda);
RF_REGISTER_KERNEL(fused_causal_attention_fits, kCUDA, fits_cuda);

}  // namespace recforge::kernels
