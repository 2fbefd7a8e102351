// The single-process communicator: local semantics of every collective.
#include <gtest/gtest.h>

#include "recforge/comm/communicator.hpp"
#include "recforge/core/tensor.hpp"
#include "testing/error_testing.hpp"

namespace recforge {
namespace {

TEST(SingleCommunicator, CollectivesAreLocal) {
  auto comm = make_single_communicator();
  EXPECT_EQ(comm->world_size(), 1);
  EXPECT_EQ(comm->backend(), "single");
  Tensor t = Tensor::from_vector(std::vector<float>{1, 2});
  comm->allreduce(t, ReduceOp::kAvg);
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1, 2}));
  Tensor out = Tensor::empty({2}, DType::kF32);
  comm->allgather(t, out);
  EXPECT_EQ(out.to_vector<float>(), (std::vector<float>{1, 2}));
  Tensor moved = Tensor::empty({2}, DType::kF32);
  comm->alltoallv(t, {2}, moved, {2});
  EXPECT_EQ(moved.to_vector<float>(), (std::vector<float>{1, 2}));
  EXPECT_EQ(comm->allreduce_int(5, ReduceOp::kSum), 5);
  EXPECT_EQ(comm->allgather_string("solo"), (std::vector<std::string>{"solo"}));
  EXPECT_EQ(comm->sequence(), 6u);  // allgather_string is two collectives (lengths, then bytes)
}

TEST(SingleCommunicator, ChecksShapes) {
  auto comm = make_single_communicator();
  Tensor in = Tensor::empty({2, 3}, DType::kF32), out = Tensor::empty({2, 4}, DType::kF32);
  RF_EXPECT_ERROR(comm->allgather(in, out), ErrorKind::kInvalidArgument, "row shapes differ ([2, 3] and [2, 4])");
  Tensor strided = Tensor::empty({3, 2}, DType::kF32).transposed();
  RF_EXPECT_ERROR(comm->allreduce(strided, ReduceOp::kSum), ErrorKind::kInvalidArgument, "expected a contiguous tensor");
  Tensor bytes = Tensor::empty({2}, DType::kU8);
  RF_EXPECT_ERROR(comm->allreduce(bytes, ReduceOp::kSum), ErrorKind::kInvalidArgument, "unsupported dtype u8");
}

}  // namespace
}  // namespace recforge
