// Ending an MPI job from any thread. Private, like mpi_node.hpp: it includes <mpi.h>.
#pragma once

#include <mpi.h>

#include <cstdlib>

namespace recforge::detail {

// MPI_Abort where this thread may call MPI, else a plain exit: below
// MPI_THREAD_MULTIPLE a watchdog thread must not enter MPI while the main
// thread is stuck in a collective, and mpirun ends the other ranks when one
// exits non-zero without MPI_Finalize.
[[noreturn]] inline void abort_mpi_job(int exit_code) {
  int level = MPI_THREAD_SINGLE;
  int is_main = 0;
  MPI_Query_thread(&level);
  MPI_Is_thread_main(&is_main);
  if (level >= MPI_THREAD_MULTIPLE || is_main != 0) MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::_Exit(exit_code);
}

}  // namespace recforge::detail
