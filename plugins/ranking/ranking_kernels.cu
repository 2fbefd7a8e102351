// CUDA kernels of the ranking evaluator (CPU references: ranking_kernels_cpu.cpp).
//
// Note [Custom top-K]
// One block of 128 threads per row. Each thread scans a strided slice of the row
// and keeps its best kMaxK candidates sorted in a local array (most items fail
// the single comparison against the thread's current K-th value). The block then
// merges the 128 sorted lists in K rounds: each round a block-wide argmax over
// the lists' heads (score desc, id asc) picks the next output and its owner
// advances. Only K x 128 reads of shared memory per row, no sort of the row.
#include <cub/device/device_segmented_radix_sort.cuh>

#include <algorithm>
#include <cfloat>

#include "ranking_kernels.hpp"
#include "recforge/core/tensor.hpp"
#include "recforge/kernels/gemm.hpp"
#include "recforge/cuda/check.cuh"
#include "recforge/cuda/launch.cuh"

namespace recforge::ranking {
namespace {

cudaStream_t stream_of(const Resources& res) { return static_cast<cudaStream_t>(res.stream().native()); }

__global__ void mask_kernel(float* scores, std::int64_t stride, const std::int64_t* offsets, const std::int32_t* cols,
                            std::int64_t rows) {
  const std::int64_t b = blockIdx.x;
  if (b >= rows) return;
  for (std::int64_t j = offsets[b] + threadIdx.x; j < offsets[b + 1]; j += blockDim.x) scores[b * stride + cols[j]] = -INFINITY;
}

void mask_cuda(const Resources& res, TensorView scores, const TensorView& offsets, const TensorView& cols) {
  const std::int64_t rows = scores.shape[0];
  if (rows == 0) return;
  mask_kernel<<<static_cast<unsigned>(rows), 128, 0, stream_of(res)>>>(scores.data_as<float>(), scores.strides[0],
                                                                      offsets.data_as<std::int64_t>(),
                                                                      cols.data_as<std::int32_t>(), rows);
  RF_CUDA_CHECK_LAST();
}

constexpr int kTopkThreads = 128;

// (score, id) ordering: higher score first, then smaller id.
__device__ __forceinline__ bool better(float a, std::int32_t ia, float b, std::int32_t ib) {
  return a > b || (a == b && ia < ib && ia >= 0);
}

template <int kMaxK>
__global__ void topk_kernel(const float* scores, std::int64_t stride, std::int64_t items, int k, std::int32_t* out_ids,
                            float* out_values) {
  const std::int64_t row = blockIdx.x;
  const float* s = scores + row * stride;
  float best[kMaxK];
  std::int32_t best_id[kMaxK];
  for (int p = 0; p < k; ++p) {
    best[p] = -INFINITY;
    best_id[p] = -1;
  }
  int filled = 0;
  for (std::int64_t i = threadIdx.x; i < items; i += kTopkThreads) {
    const float v = s[i];
    if (!(v > best[k - 1]) && filled == k) continue;
    if (!(v > -INFINITY)) continue;  // -inf (masked) and NaN never enter
    int p = filled < k ? filled++ : k - 1;
    while (p > 0 && best[p - 1] < v) {  // equal scores keep the earlier (smaller) id first
      best[p] = best[p - 1];
      best_id[p] = best_id[p - 1];
      --p;
    }
    best[p] = v;
    best_id[p] = static_cast<std::int32_t>(i);
  }
  // Merge: K rounds of a block argmax over the threads' list heads.
  __shared__ float head[kTopkThreads];
  __shared__ std::int32_t head_id[kTopkThreads];
  __shared__ int owner[kTopkThreads];
  int cursor = 0;
  for (int round = 0; round < k; ++round) {
    head[threadIdx.x] = cursor < filled ? best[cursor] : -INFINITY;
    head_id[threadIdx.x] = cursor < filled ? best_id[cursor] : -1;
    owner[threadIdx.x] = threadIdx.x;
    __syncthreads();
    for (int half = kTopkThreads / 2; half > 0; half >>= 1) {
      if (threadIdx.x < half) {
        const int other = threadIdx.x + half;
        if (better(head[other], head_id[other], head[threadIdx.x], head_id[threadIdx.x]) ||
            (head_id[threadIdx.x] < 0 && head_id[other] >= 0)) {
          head[threadIdx.x] = head[other];
          head_id[threadIdx.x] = head_id[other];
          owner[threadIdx.x] = owner[other];
        }
      }
      __syncthreads();
    }
    if (threadIdx.x == 0) {
      out_ids[row * k + round] = head_id[0];
      out_values[row * k + round] = head_id[0] >= 0 ? head[0] : -INFINITY;
    }
    if (head_id[0] >= 0 && owner[0] == static_cast<int>(threadIdx.x)) ++cursor;
    __syncthreads();
  }
}

void topk_cuda(const Resources& res, const TensorView& scores, TensorView ids, TensorView values) {
  const std::int64_t rows = scores.shape[0], items = scores.shape[1];
  const int k = static_cast<int>(ids.shape[1]);
  RF_CHECK(cuda_topk_supports(k), "ranking_topk: the custom CUDA kernel supports K <= ", kCudaTopkMaxK, ", got ", k);
  if (rows == 0) return;
  const auto launch = [&](auto kernel) {
    kernel<<<static_cast<unsigned>(rows), kTopkThreads, 0, stream_of(res)>>>(
        scores.data_as<float>(), scores.strides[0], items, k, ids.data_as<std::int32_t>(), values.data_as<float>());
  };
  if (k <= 32) {
    launch(topk_kernel<32>);
  } else if (k <= 64) {
    launch(topk_kernel<64>);
  } else {
    launch(topk_kernel<128>);
  }
  RF_CUDA_CHECK_LAST();
}

__global__ void iota_rows_kernel(std::int32_t* ids, std::int64_t rows, std::int64_t items, std::int64_t* offsets) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < rows * items;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    ids[i] = static_cast<std::int32_t>(i % items);
    if (i % items == 0) offsets[i / items] = i;
  }
  if (blockIdx.x == 0 && threadIdx.x == 0) offsets[rows] = rows * items;
}

__global__ void copy_head_kernel(const float* sorted, const std::int32_t* sorted_ids, std::int64_t items, std::int64_t rows,
                                 int k, std::int32_t* ids, float* values) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < rows * k;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t row = i / k, p = i % k;
    const bool have = p < items && sorted[row * items + p] > -INFINITY;
    ids[i] = have ? sorted_ids[row * items + p] : -1;
    values[i] = have ? sorted[row * items + p] : -INFINITY;
  }
}

// The baseline: a stable descending segmented radix sort of every row (NaN sorts
// first in CUB's descending order of floats, so NaN is replaced by -inf first).
__global__ void copy_scores_kernel(const float* in, std::int64_t stride, std::int64_t items, std::int64_t rows, float* out) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < rows * items;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const float v = in[(i / items) * stride + i % items];
    out[i] = v == v ? v : -INFINITY;
  }
}

void topk_sort_rows(const Resources& res, const TensorView& scores, TensorView ids, TensorView values);

// A block of rows x items (K > kCudaTopkMaxK over a large evaluation block)
// is sorted in chunks of rows, as the CPU's tiles do: CUB counts the elements
// of one sort in an int, and each element needs ~24 bytes of scratch (keys,
// ids, both sorted, and CUB's own), so a chunk holds at most 2^27 elements
// (~3 GiB).
void topk_sort_cuda(const Resources& res, const TensorView& scores, TensorView ids, TensorView values) {
  const std::int64_t rows = scores.shape[0], items = scores.shape[1];
  RF_CHECK(items < INT32_MAX, "ranking_topk_sort: ", items, " items exceed CUB's int offsets");
  constexpr std::int64_t kChunkElements = std::int64_t{1} << 27;
  const std::int64_t chunk = std::max<std::int64_t>(1, kChunkElements / std::max<std::int64_t>(items, 1));
  for (std::int64_t begin = 0; begin < rows; begin += chunk) {
    const std::int64_t end = std::min(rows, begin + chunk);
    topk_sort_rows(res, scores.slice_rows(begin, end), ids.slice_rows(begin, end), values.slice_rows(begin, end));
  }
}

void topk_sort_rows(const Resources& res, const TensorView& scores, TensorView ids, TensorView values) {
  const std::int64_t rows = scores.shape[0], items = scores.shape[1];
  const int k = static_cast<int>(ids.shape[1]);
  if (rows == 0) return;
  const cudaStream_t stream = stream_of(res);
  if (items == 0) {  // nothing to sort: every slot is padding (-1, -inf)
    copy_head_kernel<<<cuda::blocks_for(rows * k, 256), 256, 0, stream>>>(nullptr, nullptr, 0, rows, k,
                                                                          ids.data_as<std::int32_t>(), values.data_as<float>());
    RF_CUDA_CHECK_LAST();
    return;
  }
  const auto n = rows * items;
  Tensor keys = Tensor::empty({n}, DType::kF32, res.allocator(), res.stream());
  Tensor sorted = Tensor::empty({n}, DType::kF32, res.allocator(), res.stream());
  Tensor item_ids = Tensor::empty({n}, DType::kI32, res.allocator(), res.stream());
  Tensor sorted_ids = Tensor::empty({n}, DType::kI32, res.allocator(), res.stream());
  Tensor offsets = Tensor::empty({rows + 1}, DType::kI64, res.allocator(), res.stream());
  copy_scores_kernel<<<cuda::blocks_for(n, 256), 256, 0, stream>>>(scores.data_as<float>(), scores.strides[0], items, rows,
                                                                    keys.data_as<float>());
  iota_rows_kernel<<<cuda::blocks_for(n, 256), 256, 0, stream>>>(item_ids.data_as<std::int32_t>(), rows, items,
                                                                  offsets.data_as<std::int64_t>());
  RF_CUDA_CHECK_LAST();
  std::size_t bytes = 0;
  const auto* begin = offsets.data_as<std::int64_t>();
  RF_CUDA_CHECK(cub::DeviceSegmentedRadixSort::SortPairsDescending(
      nullptr, bytes, keys.data_as<float>(), sorted.data_as<float>(), item_ids.data_as<std::int32_t>(),
      sorted_ids.data_as<std::int32_t>(), static_cast<int>(n), static_cast<int>(rows), begin, begin + 1, 0, 32, stream));
  Tensor temp = Tensor::empty({static_cast<std::int64_t>(bytes)}, DType::kU8, res.allocator(), res.stream());
  RF_CUDA_CHECK(cub::DeviceSegmentedRadixSort::SortPairsDescending(
      temp.data(), bytes, keys.data_as<float>(), sorted.data_as<float>(), item_ids.data_as<std::int32_t>(),
      sorted_ids.data_as<std::int32_t>(), static_cast<int>(n), static_cast<int>(rows), begin, begin + 1, 0, 32, stream));
  copy_head_kernel<<<cuda::blocks_for(rows * k, 256), 256, 0, stream>>>(
      sorted.data_as<float>(), sorted_ids.data_as<std::int32_t>(), items, rows, k, ids.data_as<std::int32_t>(),
      values.data_as<float>());
  RF_CUDA_CHECK_LAST();
}

// Plain pointers for the kernel (TensorView's helpers are host functions).
struct MetricPointers {
  const std::int32_t* topk;
  std::int64_t k;
  const std::int64_t* offsets;
  const std::int32_t* cols;
  const float* gains;      // nullptr: binary relevance
  const std::int32_t* groups;
  const float* self_info;  // nullptr: no novelty
  const float* unit_emb;   // nullptr: no diversity
  std::int64_t d;
};

__global__ void metrics_kernel(MetricPointers in, MetricSpec spec, std::int64_t users, std::int64_t width,
                               unsigned long long* sums, unsigned long long* counts) {
  const std::int64_t b = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (b >= users) return;
  long long local[kMaxCutoffs * kMetricsPerK] = {};
  user_metrics(in.topk + b * in.k, in.cols, in.gains, in.offsets[b], in.offsets[b + 1], in.self_info, in.unit_emb, in.d,
               spec, local);
  const std::int32_t g = in.groups[b];
  // Integer atomics: the sums do not depend on the order users finish.
  for (std::int64_t m = 0; m < width; ++m) atomicAdd(&sums[g * width + m], static_cast<unsigned long long>(local[m]));
  atomicAdd(&counts[g], 1ULL);
}

void metrics_cuda(const Resources& res, const MetricInputs& in, const MetricSpec& spec, TensorView sums, TensorView counts) {
  const std::int64_t users = in.topk.shape[0];
  if (users == 0) return;
  const MetricPointers p{in.topk.data_as<std::int32_t>(),
                         in.topk.shape[1],
                         in.rel_offsets.data_as<std::int64_t>(),
                         in.rel_cols.data_as<std::int32_t>(),
                         spec.graded ? in.rel_gains.data_as<float>() : nullptr,
                         in.groups.data_as<std::int32_t>(),
                         in.self_info.numel() ? in.self_info.data_as<float>() : nullptr,
                         in.unit_emb.numel() ? in.unit_emb.data_as<float>() : nullptr,
                         in.unit_emb.numel() ? in.unit_emb.shape[1] : 0};
  metrics_kernel<<<cuda::blocks_for(users, 128), 128, 0, stream_of(res)>>>(
      p, spec, users, spec.cutoffs * kMetricsPerK, reinterpret_cast<unsigned long long*>(sums.data),
      reinterpret_cast<unsigned long long*>(counts.data));
  RF_CUDA_CHECK_LAST();
}

__global__ void mark_items_kernel(const std::int32_t* topk, std::int64_t users, std::int64_t k, MetricSpec spec,
                                  std::int32_t* marks, std::int64_t items) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < users * k;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int32_t item = topk[i];
    const std::int64_t position = i % k;
    if (item < 0 || item >= items) continue;
    for (int t = 0; t < spec.cutoffs; ++t) {
      if (position < spec.k[t]) atomicExch(&marks[t * items + item], 1);
    }
  }
}

void mark_items_cuda(const Resources& res, const TensorView& topk, const MetricSpec& spec, TensorView marks) {
  const std::int64_t users = topk.shape[0], k = topk.shape[1];
  if (users == 0) return;
  mark_items_kernel<<<cuda::blocks_for(users * k, 256), 256, 0, stream_of(res)>>>(
      topk.data_as<std::int32_t>(), users, k, spec, marks.data_as<std::int32_t>(), marks.shape[1]);
  RF_CUDA_CHECK_LAST();
}

__global__ void sampled_ranks_kernel(const float* U, const float* V, std::int64_t d, const std::int32_t* users,
                                     const std::int32_t* candidates, std::int64_t n, std::int64_t c, std::int32_t* ranks) {
  const std::int64_t p = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (p >= n) return;
  const float* u = U + static_cast<std::int64_t>(users[p]) * d;
  const std::int32_t* cand = candidates + p * c;
  const auto score = [&](std::int32_t item) {
    float s = 0.0f;
    for (std::int64_t x = 0; x < d; ++x) s += u[x] * V[static_cast<std::int64_t>(item) * d + x];
    return s;
  };
  const float positive = score(cand[0]);
  std::int32_t rank = 1;
  for (std::int64_t j = 1; j < c; ++j) {
    const float s = score(cand[j]);
    rank += s > positive || (s == positive && cand[j] < cand[0]);
  }
  ranks[p] = rank;
}

void sampled_ranks_cuda(const Resources& res, const TensorView& user_emb, const TensorView& item_emb, const TensorView& users,
                        const TensorView& candidates, TensorView ranks) {
  const std::int64_t n = users.numel();
  if (n == 0) return;
  sampled_ranks_kernel<<<cuda::blocks_for(n, 128), 128, 0, stream_of(res)>>>(
      user_emb.data_as<float>(), item_emb.data_as<float>(), user_emb.shape[1], users.data_as<std::int32_t>(),
      candidates.data_as<std::int32_t>(), n, candidates.shape[1], ranks.data_as<std::int32_t>());
  RF_CUDA_CHECK_LAST();
}

// The whole block's scores from cuBLAS, then the mask and top-K kernels: with
// HBM bandwidth the (B, I) buffer costs less than tiling would save.
void score_topk_cuda(const Resources& res, const TensorView& users, const TensorView& items, const TensorView& offsets,
                     const TensorView& cols, TensorView ids, TensorView values) {
  Tensor scores = Tensor::empty({users.shape[0], items.shape[0]}, DType::kF32, res.allocator(), res.stream());
  kernels::gemm(res, users, items, scores, {.trans_b = true});
  mask(res, scores, offsets, cols);
  topk(res, scores, ids, values);
}

}  // namespace

RF_REGISTER_KERNEL(ranking_score_topk, kCUDA, score_topk_cuda);
RF_REGISTER_KERNEL(ranking_mask, kCUDA, mask_cuda);
RF_REGISTER_KERNEL(ranking_topk, kCUDA, topk_cuda);
RF_REGISTER_KERNEL(ranking_topk_sort, kCUDA, topk_sort_cuda);
RF_REGISTER_KERNEL(ranking_metrics, kCUDA, metrics_cuda);
RF_REGISTER_KERNEL(ranking_mark_items, kCUDA, mark_items_cuda);
RF_REGISTER_KERNEL(ranking_sampled_ranks, kCUDA, sampled_ranks_cuda);

}  // namespace recforge::ranking
