// Launcher environment variables (Open MPI, PMI/PMIx, SLURM).
#include "recforge/comm/launch_env.hpp"

#include <cstdlib>
#include <string>

namespace recforge {
namespace {

int env_int(const char* name, int fallback) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  return (*end == '\0' && value >= 0) ? static_cast<int>(value) : fallback;
}

// srun's steps are numbered from 0; the batch script's and the extern step's
// ids are the largest 32-bit values (and older SLURM leaves it unset there).
bool in_slurm_job_step() {
  const int step = env_int("SLURM_STEP_ID", -1);
  return step >= 0 && step < 0x7ffffff0;
}

}  // namespace

LaunchEnv read_launch_env() {
  LaunchEnv env;
  struct Names {
    const char *rank, *size, *local_rank, *local_size;
  };
  for (const Names& n : {Names{"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
                               "OMPI_COMM_WORLD_LOCAL_SIZE"},
                         Names{"PMIX_RANK", "PMIX_SIZE", "PMIX_LOCAL_RANK", "PMIX_LOCAL_SIZE"},
                         Names{"PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "MPI_LOCALNRANKS"},
                         Names{"SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_NTASKS_PER_NODE"}}) {
    const int rank = env_int(n.rank, -1);
    const int size = env_int(n.size, -1);
    if (rank < 0 || size < 1) continue;
    // SLURM sets its task variables in the batch script too, where nothing
    // launched ranks: only a job step (srun) counts.
    if (std::string(n.rank) == "SLURM_PROCID" && !in_slurm_job_step()) continue;
    env.rank = rank;
    env.world_size = size;
    env.local_rank = env_int(n.local_rank, rank);
    env.local_size = env_int(n.local_size, size);
    env.under_launcher = true;
    break;
  }
  return env;
}

}  // namespace recforge
