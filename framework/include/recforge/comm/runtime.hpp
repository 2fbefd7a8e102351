// Process-level distributed runtime: MPI start-up and shut-down, choosing and
// building the communicator, and ending a failed job fast.
//
//   DistributedRuntime runtime(argc, argv);          // MPI_Init when under mpirun/srun
//   auto comm = runtime.make_communicator("auto", Device::cpu());
//
// On an error a rank calls runtime.fail(code, message): it prints the message
// with the rank prefix and calls MPI_Abort, so mpirun takes every rank down
// within a second or two instead of leaving them in a collective. An error
// every rank raised alike (AgreedError) ends with runtime.stop_together
// instead: each rank prints its message, all meet, and all exit with the code,
// so the first abort cannot swallow another rank's report.
#pragma once

#include <memory>
#include <string>

#include "recforge/comm/communicator.hpp"
#include "recforge/comm/launch_env.hpp"

namespace recforge {

class DistributedRuntime {
 public:
  // Initialises MPI (MPI_THREAD_MULTIPLE, so the watchdog may abort) when the
  // process was started by a launcher and recforge was built with MPI.
  DistributedRuntime(int* argc, char*** argv);
  ~DistributedRuntime();  // MPI_Finalize on a clean exit
  DistributedRuntime(const DistributedRuntime&) = delete;
  DistributedRuntime& operator=(const DistributedRuntime&) = delete;

  const LaunchEnv& launch() const { return launch_; }
  bool mpi_initialized() const { return mpi_; }

  // backend: "auto" (nccl for CUDA devices, mpi under a launcher, else single), "single", "mpi", "nccl".
  // NCCL's initialisation gives up after init_timeout_seconds (the watchdog's timeout, usually).
  std::unique_ptr<Communicator> make_communicator(const std::string& backend, Device device,
                                                  double init_timeout_seconds = 600.0);

  // Prints `message` and ends the whole job with `exit_code` (MPI_Abort under MPI).
  [[noreturn]] void fail(int exit_code, const std::string& message);

  // For an error every rank raised at the same point: prints `message`, waits
  // up to kStopTogetherSeconds for every rank to arrive (a barrier), then
  // finalises MPI and exits with `exit_code`. A rank that does not arrive in
  // time gets the job aborted as fail() would.
  [[noreturn]] void stop_together(int exit_code, const std::string& message);
  static constexpr double kStopTogetherSeconds = 10.0;

  static bool built_with_mpi();
  static bool built_with_nccl();

 private:
  LaunchEnv launch_;
  bool mpi_ = false;
};

// Backends (throw a clear error when recforge was built without them).
std::unique_ptr<Communicator> make_mpi_communicator();
// Bootstraps NCCL over `bootstrap` (rank 0 creates the unique id and broadcasts
// it) on CUDA device `device`; the NCCL communicator keeps `bootstrap` for its
// host-side helpers and CPU tensors. Init that has not finished after
// `init_timeout_seconds` (a rank that never joined) aborts with an error.
std::unique_ptr<Communicator> make_nccl_communicator(std::unique_ptr<Communicator> bootstrap, int device,
                                                     double init_timeout_seconds = 600.0);

}  // namespace recforge
