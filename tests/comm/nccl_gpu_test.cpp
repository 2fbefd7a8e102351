// The NCCL backend on one GPU (a 1-rank NCCL communicator bootstrapped over the
// single-process communicator): every collective against known answers.
#include <gtest/gtest.h>

#include <cstring>

#include "recforge/comm/runtime.hpp"
#include "recforge/core/tensor.hpp"
#include "testing/error_testing.hpp"
#include "testing/gpu.hpp"

namespace recforge {
namespace {

TEST(NcclGpu, OneRankCollectivesOnDevice) {
  RF_SKIP_WITHOUT_GPU();
  auto comm = make_nccl_communicator(make_single_communicator(), 0);
  EXPECT_EQ(comm->backend(), "nccl");
  const Stream& stream = comm->stream();
  for (DType dtype : {DType::kF32, DType::kI64}) {
    Tensor host = dtype == DType::kF32 ? Tensor::from_vector(std::vector<float>{1.5f, -2})
                                       : Tensor::from_vector(std::vector<std::int64_t>{7, -3});
    Tensor device = host.to(Device::cuda(0), stream);
    comm->allreduce(device, ReduceOp::kSum);
    Tensor back = device.to(Device::cpu(), stream);
    stream.synchronize();
    EXPECT_EQ(std::memcmp(back.data(), host.data(), host.nbytes()), 0) << dtype_name(dtype);
  }
  Tensor in = Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2}).to(Device::cuda(0), stream);
  Tensor out = Tensor::empty({2, 2}, DType::kF32, Device::cuda(0), stream);
  comm->allgather(in, out);
  comm->broadcast(out, 0);
  Tensor scattered = Tensor::empty({2, 2}, DType::kF32, Device::cuda(0), stream);
  comm->reduce_scatter(out, scattered, ReduceOp::kAvg);
  Tensor moved = Tensor::empty({2, 2}, DType::kF32, Device::cuda(0), stream);
  comm->alltoallv(scattered, {2}, moved, {2});
  comm->barrier();
  Tensor back = moved.to(Device::cpu(), stream);
  stream.synchronize();
  EXPECT_EQ(back.to_vector<float>(), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(comm->allreduce_int(5, ReduceOp::kSum), 5);
  EXPECT_FALSE(comm->async_error().has_value());
}

// Host tensors (an evaluation's metric sums) go through the MPI bootstrap;
// one collective cannot mix devices.
TEST(NcclGpu, HostTensorsGoThroughTheBootstrap) {
  RF_SKIP_WITHOUT_GPU();
  auto comm = make_nccl_communicator(make_single_communicator(), 0);
  Tensor host = Tensor::from_vector(std::vector<std::int64_t>{3, -4});
  comm->allreduce(host, ReduceOp::kSum);
  EXPECT_EQ(host.to_vector<std::int64_t>(), (std::vector<std::int64_t>{3, -4}));
  Tensor gathered = Tensor::zeros({2}, DType::kI64);
  comm->allgather(host, gathered);
  EXPECT_EQ(gathered.to_vector<std::int64_t>(), (std::vector<std::int64_t>{3, -4}));
  Tensor device = Tensor::zeros({2}, DType::kI64, Device::cuda(0), comm->stream());
  RF_EXPECT_ERROR(comm->allgather(host, device), ErrorKind::kInvalidArgument,
                  "allgather: the nccl communicator needs both tensors on one device, got cpu and cuda:0");
}

}  // namespace
}  // namespace recforge
