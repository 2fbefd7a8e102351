// gtest main for tests run under `mpirun -np N`: initialises MPI through
// DistributedRuntime, gives tests the world communicator (testing::world()),
// prints results on rank 0 only, and makes every rank fail if any rank failed.
#include <gtest/gtest.h>

#include <cstdlib>

#include "recforge/comm/runtime.hpp"
#include "recforge/log/logging.hpp"
#include "testing/mpi.hpp"

namespace recforge::testing {
namespace {
Communicator* g_world = nullptr;
DistributedRuntime* g_runtime = nullptr;
}  // namespace
Communicator& world() { return *g_world; }
DistributedRuntime& runtime() { return *g_runtime; }
}  // namespace recforge::testing

int main(int argc, char** argv) {
  recforge::DistributedRuntime runtime(&argc, &argv);
  recforge::testing::g_runtime = &runtime;
  ::testing::InitGoogleTest(&argc, argv);
  auto comm = runtime.make_communicator(runtime.mpi_initialized() ? "mpi" : "single", recforge::Device::cpu());
  recforge::testing::g_world = comm.get();
  recforge::log::init(comm->rank(), comm->world_size(), recforge::log::Level::kWarn);
  if (comm->rank() != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  const int local_failed = RUN_ALL_TESTS();
  const std::int64_t failed = comm->allreduce_int(local_failed != 0 ? 1 : 0, recforge::ReduceOp::kSum);
  if (failed > 0 && comm->rank() == 0) std::fprintf(stderr, "%lld rank(s) had failures\n", static_cast<long long>(failed));
  comm.reset();
  return failed > 0 ? 1 : 0;
}
