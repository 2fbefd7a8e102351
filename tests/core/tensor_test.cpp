// Tensor: shapes, views, strided copies, explicit device copies and their errors.
#include <gtest/gtest.h>

#include "recforge/core/cuda_runtime.hpp"
#include "recforge/core/tensor.hpp"
#include "testing/error_testing.hpp"

namespace recforge {
namespace {

TEST(Tensor, EmptyHasShapeDtypeAndDevice) {
  Tensor t = Tensor::empty({3, 4}, DType::kI64);
  EXPECT_EQ(t.shape(), (Shape{3, 4}));
  EXPECT_EQ(t.strides(), (Shape{4, 1}));
  EXPECT_EQ(t.numel(), 12);
  EXPECT_EQ(t.nbytes(), 96u);
  EXPECT_EQ(t.dtype(), DType::kI64);
  EXPECT_TRUE(t.device().is_cpu());
  EXPECT_TRUE(t.owns_memory());
  EXPECT_TRUE(t.is_contiguous());
}

// A shape whose element count does not fit an int64 (from a crafted file, or
// a product of configured sizes) is refused before anything is allocated.
TEST(Tensor, AShapeBeyondInt64IsRefused) {
  RF_EXPECT_ERROR(Tensor::empty({8, std::int64_t{1} << 61}, DType::kF32), ErrorKind::kInvalidArgument,
                  "shape [8, 2305843009213693952] has more elements than an int64 counts");
  RF_EXPECT_ERROR(Tensor::empty({std::int64_t{1} << 61}, DType::kI64), ErrorKind::kInvalidArgument,
                  "would take more bytes than a size_t counts");
}

TEST(Tensor, ZerosAreZero) {
  Tensor t = Tensor::zeros({5, 7}, DType::kF32);
  for (float v : t.span<float>()) EXPECT_EQ(v, 0.0f);
}

TEST(Tensor, FromVectorRoundTrips) {
  const std::vector<std::int32_t> values = {1, -2, 3, 4, 5, 6};
  Tensor t = Tensor::from_vector(values, {2, 3});
  EXPECT_EQ(t.to_vector<std::int32_t>(), values);
  EXPECT_EQ(t.view().at<std::int32_t>(1, 2), 6);
}

TEST(Tensor, FromVectorChecksShape) {
  RF_EXPECT_ERROR(Tensor::from_vector(std::vector<float>{1, 2, 3}, {2, 2}), ErrorKind::kInvalidArgument,
                  "needs 4 values, got 3");
}

TEST(Tensor, ToCpuIsADeepCopy) {
  Tensor a = Tensor::from_vector(std::vector<float>{1, 2, 3});
  Tensor b = a.to(Device::cpu());
  EXPECT_NE(a.data(), b.data());
  b.data_as<float>()[0] = 42;
  EXPECT_EQ(a.data_as<float>()[0], 1.0f);
  EXPECT_EQ(b.to_vector<float>(), (std::vector<float>{42, 2, 3}));
}

TEST(Tensor, SliceRowsSharesStorageAndKeepsItAlive) {
  Tensor rows;
  {
    Tensor t = Tensor::from_vector(std::vector<float>{0, 1, 2, 3, 4, 5}, {3, 2});
    rows = t.slice_rows(1, 3);
    t.data_as<float>()[2] = 20;  // element (1, 0), visible through the slice
  }
  EXPECT_EQ(rows.shape(), (Shape{2, 2}));
  EXPECT_EQ(rows.to_vector<float>(), (std::vector<float>{20, 3, 4, 5}));
}

TEST(Tensor, SliceRowsOutOfRangeIsAnError) {
  Tensor t = Tensor::empty({3, 2}, DType::kF32);
  RF_EXPECT_ERROR(t.slice_rows(2, 4), ErrorKind::kInvalidArgument, "slice_rows [2, 4) is outside [0, 3)");
}

TEST(Tensor, TransposedIsAStridedViewAndContiguousCopiesIt) {
  Tensor t = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor tt = t.transposed();
  EXPECT_EQ(tt.shape(), (Shape{3, 2}));
  EXPECT_FALSE(tt.is_contiguous());
  EXPECT_EQ(tt.data(), t.data());
  Tensor c = tt.contiguous();
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_EQ(c.to_vector<float>(), (std::vector<float>{1, 4, 2, 5, 3, 6}));
  // to() of a strided view gives a contiguous copy too.
  EXPECT_EQ(tt.to(Device::cpu()).to_vector<float>(), (std::vector<float>{1, 4, 2, 5, 3, 6}));
}

TEST(Tensor, StridedCopyFromIntoContiguous) {
  Tensor src = Tensor::from_vector(std::vector<std::int64_t>{1, 2, 3, 4}, {2, 2});
  Tensor dst = Tensor::empty({2, 2}, DType::kI64);
  dst.copy_from(src.transposed().view());
  EXPECT_EQ(dst.to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, 3, 2, 4}));
}

TEST(Tensor, ReshapeNeedsContiguousAndSameSize) {
  Tensor t = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(t.reshape({3, 2}).shape(), (Shape{3, 2}));
  RF_EXPECT_ERROR(t.reshape({4, 2}), ErrorKind::kInvalidArgument, "cannot reshape [2, 3] (6 elements) to [4, 2]");
  RF_EXPECT_ERROR(t.transposed().reshape({6}), ErrorKind::kInvalidArgument, "expected a contiguous tensor");
}

TEST(Tensor, WrongDtypeAccessNamesBothTypes) {
  Tensor t = Tensor::empty({2}, DType::kF32);
  RF_EXPECT_ERROR(t.data_as<std::int32_t>(), ErrorKind::kInvalidArgument, "tensor holds f32, accessed as i32");
}

TEST(Tensor, CopyFromChecksDtypeAndSize) {
  Tensor a = Tensor::empty({4}, DType::kF32);
  RF_EXPECT_ERROR(a.copy_from(Tensor::empty({4}, DType::kI32)), ErrorKind::kInvalidArgument, "dtype i32 into f32");
  RF_EXPECT_ERROR(a.copy_from(Tensor::empty({5}, DType::kF32)), ErrorKind::kInvalidArgument,
                  "5 elements into a tensor of 4");
}

TEST(Tensor, WrapDoesNotOwn) {
  std::vector<float> memory = {1, 2, 3};
  Tensor t = Tensor::wrap(TensorView::of(std::span<float>(memory)));
  EXPECT_FALSE(t.owns_memory());
  t.data_as<float>()[1] = 7;
  EXPECT_EQ(memory[1], 7.0f);
}

TEST(Tensor, ZeroSizedTensorsWork) {
  Tensor t = Tensor::empty({0, 8}, DType::kF32);
  EXPECT_EQ(t.numel(), 0);
  EXPECT_EQ(t.to(Device::cpu()).numel(), 0);
}

TEST(Tensor, CopyToCudaWithoutGpuIsAClearError) {
  if (cuda::device_count() > 0) GTEST_SKIP() << "a GPU is present; covered by core_gpu_test";
  Tensor t = Tensor::empty({2}, DType::kF32);
  RF_EXPECT_ERROR(t.to(Device::cuda(0)), ErrorKind::kCuda, "CUDA");
}

TEST(Device, ParsesAndPrints) {
  EXPECT_EQ(Device::parse("cpu"), Device::cpu());
  EXPECT_EQ(Device::parse("cuda:3"), Device::cuda(3));
  EXPECT_EQ(Device::cuda(2).str(), "cuda:2");
  RF_EXPECT_ERROR(Device::parse("tpu"), ErrorKind::kInvalidArgument, "unknown device 'tpu'");
  RF_EXPECT_ERROR(Device::parse("cuda:x"), ErrorKind::kInvalidArgument, "unknown device 'cuda:x'");
}

}  // namespace
}  // namespace recforge
