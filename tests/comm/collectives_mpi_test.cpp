// Every collective against known answers on real MPI ranks (run with np 2 and 3),
// NaN propagation through MAX/MIN (RELIABILITY N3), and the desync check.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "recforge/comm/communicator.hpp"
#include "recforge/core/tensor.hpp"
#include "testing/error_testing.hpp"
#include "testing/mpi.hpp"

#ifdef RECFORGE_TEST_MPI_CHECK
#include "core/mpi_check.hpp"
#endif

namespace recforge {
namespace {

Communicator& comm() { return testing::world(); }
int rank() { return comm().rank(); }
int world() { return comm().world_size(); }

TEST(Collectives, AllreduceF32EveryOp) {
  for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kAvg, ReduceOp::kMax, ReduceOp::kMin}) {
    // Element i on rank r holds (r + 1) * (i + 1).
    std::vector<float> values(1000);
    for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>((rank() + 1) * (i + 1));
    Tensor t = Tensor::from_vector(values);
    comm().allreduce(t, op);
    const float ranks_sum = static_cast<float>(world() * (world() + 1) / 2);
    for (std::size_t i = 0; i < values.size(); ++i) {
      const float base = static_cast<float>(i + 1);
      const float expected = op == ReduceOp::kSum   ? ranks_sum * base
                             : op == ReduceOp::kAvg ? ranks_sum * base / static_cast<float>(world())
                             : op == ReduceOp::kMax ? static_cast<float>(world()) * base
                                                    : base;
      ASSERT_FLOAT_EQ(t.data_as<float>()[i], expected) << reduce_op_name(op) << " element " << i;
    }
  }
}

TEST(Collectives, AllreduceIntegers) {
  Tensor a = Tensor::from_vector(std::vector<std::int64_t>{rank(), 1LL << 40, -rank()});
  comm().allreduce(a, ReduceOp::kSum);
  const std::int64_t ranks_sum = world() * (world() - 1) / 2;
  EXPECT_EQ(a.to_vector<std::int64_t>(), (std::vector<std::int64_t>{ranks_sum, world() * (1LL << 40), -ranks_sum}));
  Tensor b = Tensor::from_vector(std::vector<std::int32_t>{rank() * 10, -rank()});
  comm().allreduce(b, ReduceOp::kMax);
  EXPECT_EQ(b.to_vector<std::int32_t>(), (std::vector<std::int32_t>{(world() - 1) * 10, 0}));
  RF_EXPECT_ERROR(comm().allreduce(b, ReduceOp::kAvg), ErrorKind::kInvalidArgument, "avg needs a floating-point");
}

TEST(Collectives, AllreduceHalfAndBFloat16AccumulateInF32) {
  // Values exactly representable in both 16-bit formats.
  std::vector<Half> h = {float_to_half(0.5f * (rank() + 1)), float_to_half(-2.0f)};
  std::vector<BFloat16> bf = {float_to_bfloat16(0.25f * (rank() + 1)), float_to_bfloat16(4.0f)};
  Tensor th = Tensor::from_vector(h), tb = Tensor::from_vector(bf);
  comm().allreduce(th, ReduceOp::kSum);
  comm().allreduce(tb, ReduceOp::kAvg);
  const float ranks_sum = static_cast<float>(world() * (world() + 1) / 2);
  EXPECT_EQ(half_to_float(th.data_as<Half>()[0]), 0.5f * ranks_sum);
  EXPECT_EQ(half_to_float(th.data_as<Half>()[1]), -2.0f * static_cast<float>(world()));
  EXPECT_EQ(bfloat16_to_float(tb.data_as<BFloat16>()[0]), 0.25f * ranks_sum / static_cast<float>(world()));
  EXPECT_EQ(bfloat16_to_float(tb.data_as<BFloat16>()[1]), 4.0f);
}

// RELIABILITY N3: a NaN on any single rank reaches every rank through MAX and MIN.
TEST(Collectives, NanOnOneRankIsSeenByAllThroughMaxAndMin) {
  for (int nan_rank = 0; nan_rank < world(); ++nan_rank) {
    for (ReduceOp op : {ReduceOp::kMax, ReduceOp::kMin}) {
      Tensor t = Tensor::from_vector(std::vector<float>{rank() == nan_rank ? std::nanf("") : 1.0f, 2.0f});
      comm().allreduce(t, op);
      EXPECT_TRUE(std::isnan(t.data_as<float>()[0])) << "NaN on rank " << nan_rank << ", " << reduce_op_name(op);
      EXPECT_EQ(t.data_as<float>()[1], 2.0f);
      const double d = comm().allreduce_double(rank() == nan_rank ? std::nan("") : 1.0, op);
      EXPECT_TRUE(std::isnan(d));
    }
  }
}

TEST(Collectives, AllgatherAndUnevenAllgatherv) {
  Tensor mine = Tensor::from_vector(std::vector<float>{static_cast<float>(rank()), static_cast<float>(10 + rank())}, {1, 2});
  Tensor all = Tensor::empty({world(), 2}, DType::kF32);
  comm().allgather(mine, all);
  for (int r = 0; r < world(); ++r) {
    EXPECT_EQ(all.view().at<float>(r, 0), r);
    EXPECT_EQ(all.view().at<float>(r, 1), 10 + r);
  }
  // Rank r contributes r + 1 rows (rank 0 also tests a 1-row piece next to bigger ones).
  std::vector<std::int64_t> counts;
  for (int r = 0; r < world(); ++r) counts.push_back(r + 1);
  std::vector<std::int32_t> rows;
  for (int k = 0; k <= rank(); ++k) rows.insert(rows.end(), {rank(), k, 100});
  Tensor in = Tensor::from_vector(rows, {rank() + 1, 3});
  const std::int64_t total = std::accumulate(counts.begin(), counts.end(), std::int64_t{0});
  Tensor out = Tensor::empty({total, 3}, DType::kI32);
  comm().allgatherv(in, out, counts);
  std::int64_t at = 0;
  for (int r = 0; r < world(); ++r) {
    for (int k = 0; k <= r; ++k, ++at) {
      EXPECT_EQ(out.view().at<std::int32_t>(at, 0), r);
      EXPECT_EQ(out.view().at<std::int32_t>(at, 1), k);
    }
  }
  RF_EXPECT_ERROR(comm().allgatherv(in, out, std::vector<std::int64_t>(static_cast<std::size_t>(world()), 7)),
                  ErrorKind::kInvalidArgument, "contributes");
}

TEST(Collectives, BroadcastFromEveryRoot) {
  for (int root = 0; root < world(); ++root) {
    Tensor t = Tensor::from_vector(std::vector<std::int64_t>{rank() * 7, rank()});
    comm().broadcast(t, root);
    EXPECT_EQ(t.to_vector<std::int64_t>(), (std::vector<std::int64_t>{root * 7, root}));
  }
  Tensor t = Tensor::empty({1}, DType::kF32);
  RF_EXPECT_ERROR(comm().broadcast(t, world()), ErrorKind::kInvalidArgument, "root");
}

TEST(Collectives, ReduceScatter) {
  // in has world x 2 rows; row block b on rank r holds r + b.
  std::vector<float> values;
  for (int b = 0; b < world(); ++b) values.insert(values.end(), {static_cast<float>(rank() + b), 1.0f});
  Tensor in = Tensor::from_vector(values, {world(), 2});
  Tensor out = Tensor::empty({1, 2}, DType::kF32);
  comm().reduce_scatter(in, out, ReduceOp::kSum);
  const float ranks_sum = static_cast<float>(world() * (world() - 1) / 2);
  EXPECT_EQ(out.view().at<float>(0, 0), ranks_sum + static_cast<float>(world() * rank()));
  EXPECT_EQ(out.view().at<float>(0, 1), static_cast<float>(world()));
  // Integers have no average on every backend (NCCL would divide, MPI would not).
  const Tensor ints = Tensor::zeros({world(), 2}, DType::kI32);
  Tensor int_out = Tensor::zeros({1, 2}, DType::kI32);
  RF_EXPECT_ERROR(comm().reduce_scatter(ints, int_out, ReduceOp::kAvg), ErrorKind::kInvalidArgument,
                  "reduce_scatter: avg needs a floating-point tensor, got i32");
}

// MPI moves CPU tensors only: asking for it with a GPU is a config error
// before any collective, not a refusal at the first gradient sync.
TEST(Collectives, MpiBackendRefusesACudaDevice) {
  if (!testing::runtime().mpi_initialized()) GTEST_SKIP() << "needs mpirun";
  RF_EXPECT_ERROR(testing::runtime().make_communicator("mpi", Device::cuda(0)), ErrorKind::kConfig,
                  "comm.backend mpi moves CPU tensors only, but run.device is cuda:0 (use comm.backend nccl or auto)");
}

// Ranks that chose different kinds of device (run.device auto on a node
// whose GPU is gone) are named by every rank before any backend starts.
TEST(Collectives, RanksOnDifferentKindsOfDeviceAreNamed) {
  if (!testing::runtime().mpi_initialized()) GTEST_SKIP() << "needs mpirun";
  const Device mine = rank() == 0 ? Device::cuda(0) : Device::cpu();
  std::string on_cpu = "1";
  for (int r = 2; r < world(); ++r) on_cpu += ", " + std::to_string(r);
  try {
    testing::runtime().make_communicator("auto", mine);
    ADD_FAILURE() << "no error";
  } catch (const AgreedError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kConfig);
    EXPECT_THAT(e.what(), ::testing::HasSubstr("run.device differs across ranks: rank(s) " + on_cpu +
                                               " run on the CPU and the others on CUDA"));
  }
}

TEST(Collectives, AlltoallvRoutesRowsByCount) {
  // Rank r sends s + 1 rows to rank s, each row (r, s, k).
  std::vector<std::int64_t> send, recv;
  std::vector<std::int64_t> rows;
  for (int s = 0; s < world(); ++s) {
    send.push_back(s + 1);
    for (int k = 0; k <= s; ++k) rows.insert(rows.end(), {rank(), s, k});
  }
  for (int s = 0; s < world(); ++s) recv.push_back(rank() + 1);
  Tensor in = Tensor::from_vector(rows, {static_cast<std::int64_t>(rows.size() / 3), 3});
  Tensor out = Tensor::empty({world() * (rank() + 1), 3}, DType::kI64);
  comm().alltoallv(in, send, out, recv);
  std::int64_t at = 0;
  for (int r = 0; r < world(); ++r) {
    for (int k = 0; k <= rank(); ++k, ++at) {
      EXPECT_EQ(out.view().at<std::int64_t>(at, 0), r);
      EXPECT_EQ(out.view().at<std::int64_t>(at, 1), rank());
      EXPECT_EQ(out.view().at<std::int64_t>(at, 2), k);
    }
  }
}

#ifdef RECFORGE_TEST_MPI_CHECK
// An MPI failure names the call ("MPI_Send failed: MPI_ERR_RANK: ..."), not
// the preprocessed text of its arguments.
TEST(Collectives, MpiErrorNamesTheCall) {
  MPI_Comm dup = MPI_COMM_NULL;
  ASSERT_EQ(MPI_Comm_dup(MPI_COMM_WORLD, &dup), MPI_SUCCESS);
  ASSERT_EQ(MPI_Comm_set_errhandler(dup, MPI_ERRORS_RETURN), MPI_SUCCESS);
  int value = 0;
  try {
    RF_MPI_CHECK(MPI_Send(&value, 1, MPI_INT, /*dest=*/99, 0, dup));
    ADD_FAILURE() << "a send to rank 99 of " << world() << " did not fail";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kMpi);
    EXPECT_EQ(e.message().rfind("MPI_Send failed: MPI_ERR_RANK", 0), 0u) << e.message();
  }
  MPI_Comm_free(&dup);
}
#endif

TEST(Collectives, HostHelpersAndBarrier) {
  comm().barrier();
  EXPECT_EQ(comm().allreduce_int(rank() + 1, ReduceOp::kSum), world() * (world() + 1) / 2);
  EXPECT_EQ(comm().allreduce_int(rank(), ReduceOp::kMax), world() - 1);
  std::int64_t several[3] = {rank(), rank() == 0 ? 1 : 0, -rank()};
  comm().allreduce_ints(several, ReduceOp::kSum);
  EXPECT_EQ((std::vector<std::int64_t>(several, several + 3)),
            (std::vector<std::int64_t>{world() * (world() - 1) / 2, 1, -world() * (world() - 1) / 2}));
  EXPECT_DOUBLE_EQ(comm().allreduce_double(0.5, ReduceOp::kAvg), 0.5);
  std::vector<std::int64_t> expected(static_cast<std::size_t>(world()));
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(comm().allgather_int(rank()), expected);
  const auto names = comm().allgather_string(std::string(static_cast<std::size_t>(rank()), 'x') + "rank");
  for (int r = 0; r < world(); ++r) EXPECT_EQ(names[static_cast<std::size_t>(r)], std::string(static_cast<std::size_t>(r), 'x') + "rank");
}

// RELIABILITY F7: a rank calling a collective with a different count is detected
// on every rank, naming both, before the mismatched collective runs.
TEST(Collectives, DesyncCheckNamesTheDisagreeingRanks) {
  comm().set_desync_check(true);
  Tensor t = Tensor::zeros({rank() == world() - 1 ? 11 : 10}, DType::kF32);
  RF_EXPECT_ERROR(comm().allreduce(t, ReduceOp::kSum), ErrorKind::kCommunication,
                  "collective desync: rank 0 issues #");
  RF_EXPECT_ERROR(comm().allreduce(t, ReduceOp::kSum), ErrorKind::kCommunication,
                  "but rank " + std::to_string(world() - 1) + " issues");
  // Matching calls pass, and the communicator is usable afterwards.
  Tensor ok = Tensor::from_vector(std::vector<float>{1.0f});
  comm().allreduce(ok, ReduceOp::kSum);
  EXPECT_EQ(ok.data_as<float>()[0], static_cast<float>(world()));
  comm().set_desync_check(false);
}

TEST(Collectives, SequenceNumbersAdvanceInStep) {
  const auto before = comm().allgather_int(static_cast<std::int64_t>(comm().sequence()));
  for (std::int64_t s : before) EXPECT_EQ(s, before[0]);
}

}  // namespace
}  // namespace recforge
