// Host allocator: alignment and byte accounting (current, peak, counts).
#include <gtest/gtest.h>

#include <cstdint>

#include "recforge/core/allocator.hpp"
#include "recforge/core/cuda_runtime.hpp"
#include "recforge/core/tensor.hpp"
#include "testing/error_testing.hpp"

namespace recforge {
namespace {

TEST(HostAllocator, AlignsTo64Bytes) {
  Allocator& alloc = host_allocator();
  for (std::size_t bytes : {1u, 3u, 64u, 65u, 4097u}) {
    void* p = alloc.allocate(bytes, Stream());
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % kHostAlignment, 0u) << bytes;
    alloc.deallocate(p, bytes, Stream());
  }
}

TEST(HostAllocator, ZeroBytesIsNullAndNotCounted) {
  Allocator& alloc = host_allocator();
  const auto before = alloc.stats();
  EXPECT_EQ(alloc.allocate(0, Stream()), nullptr);
  EXPECT_EQ(alloc.stats().allocations, before.allocations);
}

TEST(HostAllocator, TracksCurrentAndPeakThroughTensorLifetimes) {
  Allocator& alloc = host_allocator();
  const std::int64_t base = alloc.stats().current_bytes;
  alloc.reset_peak();
  {
    Tensor a = Tensor::empty({1000}, DType::kF32);   // 4000 bytes
    Tensor b = Tensor::empty({500}, DType::kI64);    // 4000 bytes
    EXPECT_EQ(alloc.stats().current_bytes - base, 8000);
    { Tensor c = Tensor::empty({250}, DType::kU8); }  // 250 bytes, freed at once
    EXPECT_EQ(alloc.stats().current_bytes - base, 8000);
    EXPECT_EQ(alloc.stats().peak_bytes - base, 8250);
  }
  EXPECT_EQ(alloc.stats().current_bytes, base);
  EXPECT_EQ(alloc.stats().peak_bytes - base, 8250);
  alloc.reset_peak();
  EXPECT_EQ(alloc.stats().peak_bytes, base);
}

TEST(HostAllocator, CountsAllocationsAndFrees) {
  Allocator& alloc = host_allocator();
  const auto before = alloc.stats();
  { Tensor a = Tensor::empty({10}, DType::kF32); }
  EXPECT_EQ(alloc.stats().allocations - before.allocations, 1);
  EXPECT_EQ(alloc.stats().frees - before.frees, 1);
}

TEST(CudaAllocator, MissingDeviceIsAClearError) {
  const int count = cuda::device_count();
  RF_EXPECT_ERROR(cuda_allocator(count), ErrorKind::kCuda, "no CUDA device " + std::to_string(count));
}

}  // namespace
}  // namespace recforge
