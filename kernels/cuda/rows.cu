// CUDA kernels for row operations (see rows.hpp; the CPU reference is cpu/rows.cpp).
// coalesce_rows and scatter_add_rows: a CUB stable radix sort of (id, position)
// groups each id's rows in input order, then one block per id sums them in that
// order, so both equal the CPU reference bit for bit and repeat run to run (no
// atomics: a float sum's bits depend on its order).
#include <algorithm>
#include <bit>

#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_run_length_encode.cuh>
#include <cub/device/device_scan.cuh>

#include "recforge/cuda/check.cuh"
#include "recforge/cuda/launch.cuh"
#include "recforge/kernels/rows.hpp"

namespace recforge::kernels {
namespace {

constexpr int kThreads = 256;

cudaStream_t stream_of(const Resources& res) { return static_cast<cudaStream_t>(res.stream().native()); }

Tensor scratch(const Resources& res, std::size_t bytes) {
  return Tensor::empty({static_cast<std::int64_t>(bytes)}, DType::kU8, res.allocator(), res.stream());
}

__global__ void iota_kernel(std::int32_t* out, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    out[i] = static_cast<std::int32_t>(i);
  }
}

// One block per unique id: sum its rows (positions[offset .. offset + count)) column by column.
__global__ void sum_segments_kernel(const float* values, const std::int32_t* positions, const std::int32_t* offsets,
                                    const std::int32_t* counts, float* out, std::int64_t d) {
  const std::int64_t segment = blockIdx.x;
  const std::int32_t begin = offsets[segment], count = counts[segment];
  for (std::int64_t c = threadIdx.x; c < d; c += blockDim.x) {
    float sum = 0.0f;
    for (std::int32_t k = 0; k < count; ++k) sum += values[static_cast<std::int64_t>(positions[begin + k]) * d + c];
    out[segment * d + c] = sum;
  }
}

// sorted_ids / sorted_positions (n each): ids in ascending order, each id's
// positions in input order (the radix sort is stable). Ids below 2^key_bits:
// the sort passes over those bits only.
void sort_ids_with_positions(const Resources& res, const TensorView& ids, Tensor& sorted_ids, Tensor& sorted_positions,
                             int key_bits = 32) {
  const std::int64_t n = ids.numel();
  const int items = static_cast<int>(n);
  const cudaStream_t stream = stream_of(res);
  Tensor positions = Tensor::empty({n}, DType::kI32, res.allocator(), res.stream());
  iota_kernel<<<cuda::blocks_for(n, kThreads), kThreads, 0, stream>>>(positions.data_as<std::int32_t>(), n);
  RF_CUDA_CHECK_LAST();
  sorted_ids = Tensor::empty({n}, DType::kI32, res.allocator(), res.stream());
  sorted_positions = Tensor::empty({n}, DType::kI32, res.allocator(), res.stream());
  std::size_t bytes = 0;
  RF_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, bytes, ids.data_as<std::int32_t>(),
                                                sorted_ids.data_as<std::int32_t>(), positions.data_as<std::int32_t>(),
                                                sorted_positions.data_as<std::int32_t>(), items, 0, key_bits, stream));
  Tensor temp = scratch(res, bytes);
  RF_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp.data(), bytes, ids.data_as<std::int32_t>(),
                                                sorted_ids.data_as<std::int32_t>(), positions.data_as<std::int32_t>(),
                                                sorted_positions.data_as<std::int32_t>(), items, 0, key_bits, stream));
}

void coalesce_rows_cuda(const Resources& res, const TensorView& ids, const TensorView& values, Tensor& out_ids,
                        Tensor& out_values) {
  const std::int64_t n = ids.numel(), d = values.shape[1];
  RF_CHECK(n < INT32_MAX, "coalesce_rows: ", n, " rows exceed the CUDA kernel's 32-bit positions");
  const cudaStream_t stream = stream_of(res);
  if (n == 0) {
    out_ids = Tensor::empty({0}, DType::kI32, res.allocator(), res.stream());
    out_values = Tensor::empty({0, d}, DType::kF32, res.allocator(), res.stream());
    return;
  }
  const int items = static_cast<int>(n);
  Tensor sorted_ids, sorted_positions;
  sort_ids_with_positions(res, ids, sorted_ids, sorted_positions);
  std::size_t bytes = 0;
  Tensor unique = Tensor::empty({n}, DType::kI32, res.allocator(), res.stream());
  Tensor counts = Tensor::empty({n}, DType::kI32, res.allocator(), res.stream());
  Tensor runs = Tensor::empty({1}, DType::kI32, res.allocator(), res.stream());
  RF_CUDA_CHECK(cub::DeviceRunLengthEncode::Encode(nullptr, bytes, sorted_ids.data_as<std::int32_t>(),
                                                   unique.data_as<std::int32_t>(), counts.data_as<std::int32_t>(),
                                                   runs.data_as<std::int32_t>(), items, stream));
  Tensor temp = scratch(res, bytes);
  RF_CUDA_CHECK(cub::DeviceRunLengthEncode::Encode(temp.data(), bytes, sorted_ids.data_as<std::int32_t>(),
                                                   unique.data_as<std::int32_t>(), counts.data_as<std::int32_t>(),
                                                   runs.data_as<std::int32_t>(), items, stream));
  std::int32_t m = 0;
  RF_CUDA_CHECK(cudaMemcpyAsync(&m, runs.data(), sizeof m, cudaMemcpyDeviceToHost, stream));
  RF_CUDA_CHECK(cudaStreamSynchronize(stream));  // the output size decides the allocation
  Tensor offsets = Tensor::empty({m}, DType::kI32, res.allocator(), res.stream());
  RF_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(nullptr, bytes, counts.data_as<std::int32_t>(),
                                              offsets.data_as<std::int32_t>(), m, stream));
  temp = scratch(res, bytes);
  RF_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(temp.data(), bytes, counts.data_as<std::int32_t>(),
                                              offsets.data_as<std::int32_t>(), m, stream));
  out_ids = Tensor::empty({m}, DType::kI32, res.allocator(), res.stream());
  RF_CUDA_CHECK(cudaMemcpyAsync(out_ids.data(), unique.data(), sizeof(std::int32_t) * static_cast<std::size_t>(m),
                                cudaMemcpyDeviceToDevice, stream));
  out_values = Tensor::empty({m, d}, DType::kF32, res.allocator(), res.stream());
  if (m > 0) {
    sum_segments_kernel<<<static_cast<unsigned>(m), 128, 0, stream>>>(
        values.data_as<float>(), sorted_positions.data_as<std::int32_t>(), offsets.data_as<std::int32_t>(),
        counts.data_as<std::int32_t>(), out_values.data_as<float>(), d);
    RF_CUDA_CHECK_LAST();
  }
}

// One block per run of equal sorted ids (grid-stride over the sorted positions;
// a block works only where a run starts): table[id] is folded with the run's rows
// in input order, the CPU's serial loop. The run's positions come through shared
// memory a tile at a time, so a hot row (SASRec's shared padding row: half of a
// packed batch) costs one chain of adds over loads that do not wait on each other.
constexpr int kRunTile = 256;

__global__ void scatter_add_sorted_kernel(float* table, const std::int32_t* sorted_ids,
                                          const std::int32_t* sorted_positions, const float* values, std::int64_t n,
                                          std::int64_t d) {
  __shared__ std::int32_t tile[kRunTile];
  for (std::int64_t start = blockIdx.x; start < n; start += gridDim.x) {
    const std::int32_t id = sorted_ids[start];
    if (start > 0 && sorted_ids[start - 1] == id) continue;  // block-uniform: every thread skips
    std::int64_t low = start + 1, high = n;                    // the run ends at the first larger id
    while (low < high) {
      const std::int64_t mid = low + (high - low) / 2;
      if (sorted_ids[mid] == id) {
        low = mid + 1;
      } else {
        high = mid;
      }
    }
    const std::int64_t end = low;
    float* row = table + static_cast<std::int64_t>(id) * d;
    for (std::int64_t c0 = 0; c0 < d; c0 += blockDim.x) {
      const std::int64_t c = c0 + threadIdx.x;
      float sum = c < d ? row[c] : 0.0f;
      for (std::int64_t base = start; base < end; base += kRunTile) {
        const int count = static_cast<int>(end - base < kRunTile ? end - base : kRunTile);
        __syncthreads();  // every thread is done with the previous tile
        for (int t = threadIdx.x; t < count; t += blockDim.x) tile[t] = sorted_positions[base + t];
        __syncthreads();
        if (c < d) {
          for (int t = 0; t < count; ++t) sum += values[static_cast<std::int64_t>(tile[t]) * d + c];
        }
      }
      if (c < d) row[c] = sum;
    }
  }
}

void scatter_add_rows_cuda(const Resources& res, TensorView table, const TensorView& ids, const TensorView& values) {
  const std::int64_t n = ids.numel(), d = values.shape[1];
  if (n == 0) return;
  RF_CHECK(n < INT32_MAX, "scatter_add_rows: ", n, " rows exceed the CUDA kernel's 32-bit positions");
  Tensor sorted_ids, sorted_positions;
  // Ids index the table's rows: sort over the bits they can have.
  const int key_bits = std::max(1, static_cast<int>(std::bit_width(static_cast<std::uint64_t>(table.shape[0]))));
  sort_ids_with_positions(res, ids, sorted_ids, sorted_positions, key_bits);
  const unsigned blocks = static_cast<unsigned>(std::min<std::int64_t>(n, 8192));
  const unsigned threads = d <= 32 ? 32 : d <= 64 ? 64 : 128;
  scatter_add_sorted_kernel<<<blocks, threads, 0, stream_of(res)>>>(
      table.data_as<float>(), sorted_ids.data_as<std::int32_t>(), sorted_positions.data_as<std::int32_t>(),
      values.data_as<float>(), n, d);
  RF_CUDA_CHECK_LAST();
}

__global__ void gather_rows_kernel(const float* table, const std::int32_t* ids, float* out, std::int64_t n,
                                   std::int64_t d) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n * d;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    out[i] = table[static_cast<std::int64_t>(ids[i / d]) * d + i % d];
  }
}

void gather_rows_cuda(const Resources& res, const TensorView& table, const TensorView& ids, TensorView out) {
  const std::int64_t n = ids.numel(), d = out.shape[1];
  if (n == 0) return;
  gather_rows_kernel<<<cuda::blocks_for(n * d, kThreads), kThreads, 0, stream_of(res)>>>(
      table.data_as<float>(), ids.data_as<std::int32_t>(), out.data_as<float>(), n, d);
  RF_CUDA_CHECK_LAST();
}

__global__ void tally_nonfinite_kernel(const float* v, std::int64_t n, unsigned long long* count) {
  unsigned long long local = 0;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    local += !isfinite(v[i]);
  }
  if (local) atomicAdd(count, local);
}

unsigned long long* slot_of(TensorView counts, std::int64_t slot) {
  return reinterpret_cast<unsigned long long*>(counts.data_as<std::int64_t>() + slot);
}

void tally_nonfinite_cuda(const Resources& res, const TensorView& values, TensorView counts, std::int64_t slot) {
  const std::int64_t n = values.numel();
  if (n == 0) return;
  const unsigned blocks = std::min(cuda::blocks_for(n, kThreads), 1024u);
  tally_nonfinite_kernel<<<blocks, kThreads, 0, stream_of(res)>>>(values.data_as<float>(), n, slot_of(counts, slot));
  RF_CUDA_CHECK_LAST();
}

// Ids are trusted here (a step's coalesced gradient rows); the CPU reference checks them.
__global__ void tally_nonfinite_rows_kernel(const float* table, const std::int32_t* ids, std::int64_t n,
                                            std::int64_t d, unsigned long long* count) {
  unsigned long long local = 0;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n * d;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    local += !isfinite(table[static_cast<std::int64_t>(ids[i / d]) * d + i % d]);
  }
  if (local) atomicAdd(count, local);
}

void tally_nonfinite_rows_cuda(const Resources& res, const TensorView& table, const TensorView& ids,
                               TensorView counts, std::int64_t slot) {
  const std::int64_t n = ids.numel(), d = table.shape[1];
  if (n == 0 || d == 0) return;
  const unsigned blocks = std::min(cuda::blocks_for(n * d, kThreads), 1024u);
  tally_nonfinite_rows_kernel<<<blocks, kThreads, 0, stream_of(res)>>>(
      table.data_as<float>(), ids.data_as<std::int32_t>(), n, d, slot_of(counts, slot));
  RF_CUDA_CHECK_LAST();
}

}  // namespace

RF_REGISTER_KERNEL(coalesce_rows, kCUDA, coalesce_rows_cuda);
RF_REGISTER_KERNEL(scatter_add_rows, kCUDA, scatter_add_rows_cuda);
RF_REGISTER_KERNEL(gather_rows, kCUDA, gather_rows_cuda);
RF_REGISTER_KERNEL(tally_nonfinite, kCUDA, tally_nonfinite_cuda);
RF_REGISTER_KERNEL(tally_nonfinite_rows, kCUDA, tally_nonfinite_rows_cuda);

}  // namespace recforge::kernels
