// Tensor copies to and from a CUDA device, and the CUDA allocator's accounting.
#include <gtest/gtest.h>

#include "recforge/core/tensor.hpp"
#include "testing/gpu.hpp"

namespace recforge {
namespace {

TEST(TensorGpu, HostDeviceHostRoundTrip) {
  RF_SKIP_WITHOUT_GPU();
  const Stream stream = Stream::create(Device::cuda(0));
  std::vector<float> values(1000);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i) * 0.5f;
  Tensor host = Tensor::from_vector(values, {10, 100});
  Tensor device = host.to(Device::cuda(0), stream);
  EXPECT_TRUE(device.device().is_cuda());
  Tensor device_copy = device.to(Device::cuda(0), stream);  // device-to-device
  Tensor back = device_copy.to(Device::cpu(), stream);
  stream.synchronize();
  EXPECT_EQ(back.to_vector<float>(), values);
}

TEST(TensorGpu, StridedHostViewIsMadeContiguousBeforeUpload) {
  RF_SKIP_WITHOUT_GPU();
  const Stream stream = Stream::create(Device::cuda(0));
  Tensor host = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor back = host.transposed().to(Device::cuda(0), stream).to(Device::cpu(), stream);
  stream.synchronize();
  EXPECT_EQ(back.to_vector<float>(), (std::vector<float>{1, 4, 2, 5, 3, 6}));
}

TEST(TensorGpu, ZerosOnDevice) {
  RF_SKIP_WITHOUT_GPU();
  const Stream stream = Stream::create(Device::cuda(0));
  Tensor back = Tensor::zeros({257}, DType::kF32, Device::cuda(0), stream).to(Device::cpu(), stream);
  stream.synchronize();
  for (float v : back.span<float>()) EXPECT_EQ(v, 0.0f);
}

TEST(CudaAllocator, CountsCurrentAndPeakBytes) {
  RF_SKIP_WITHOUT_GPU();
  Allocator& alloc = cuda_allocator(0);
  const Stream stream = Stream::create(Device::cuda(0));
  const auto before = alloc.stats();
  alloc.reset_peak();
  {
    Tensor a = Tensor::empty({1 << 20}, DType::kF32, Device::cuda(0), stream);
    Tensor b = Tensor::empty({1 << 18}, DType::kF32, Device::cuda(0), stream);
    EXPECT_EQ(alloc.stats().current_bytes - before.current_bytes, (1 << 22) + (1 << 20));
  }
  stream.synchronize();
  EXPECT_EQ(alloc.stats().current_bytes, before.current_bytes);
  EXPECT_GE(alloc.stats().peak_bytes - before.current_bytes, (1 << 22) + (1 << 20));
}

TEST(Event, TimesDeviceWork) {
  RF_SKIP_WITHOUT_GPU();
  const Stream stream = Stream::create(Device::cuda(0));
  Event start(Device::cuda(0)), stop(Device::cuda(0));
  start.record(stream);
  Tensor t = Tensor::zeros({1 << 24}, DType::kF32, Device::cuda(0), stream);
  stop.record(stream);
  stop.synchronize();
  EXPECT_GE(stop.elapsed_ms_since(start), 0.0f);
}

}  // namespace
}  // namespace recforge
