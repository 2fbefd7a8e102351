// What the launcher (mpirun, srun) told this process through its environment,
// read before MPI is initialised (for log prefixes and device selection).
// Once MPI is up, DistributedRuntime replaces the local rank and size with
// MPI's own view of the node (MPI_COMM_TYPE_SHARED).
#pragma once

namespace recforge {

struct LaunchEnv {
  int rank = 0;          // global rank
  int world_size = 1;
  int local_rank = 0;    // rank on this node (picks the GPU)
  int local_size = 1;
  bool under_launcher = false;  // started by mpirun/srun
};

// Reads OMPI_COMM_WORLD_*, PMI_*/PMIX_*, then SLURM_* variables.
LaunchEnv read_launch_env();

}  // namespace recforge
