// Helpers for tests that run under mpirun (see mpi_test_main.cpp).
#pragma once

#include <gtest/gtest.h>

#include "recforge/comm/communicator.hpp"
#include "recforge/comm/runtime.hpp"

namespace recforge::testing {

// The job's world communicator (mpi under mpirun, single otherwise).
Communicator& world();
// The process's runtime (MPI initialised when started by mpirun).
DistributedRuntime& runtime();

}  // namespace recforge::testing

// Skips a test that needs at least `n` ranks.
#define RF_REQUIRE_RANKS(n)                                                                            \
  do {                                                                                                 \
    if (::recforge::testing::world().world_size() < (n)) GTEST_SKIP() << "needs " << (n) << " ranks"; \
  } while (0)
