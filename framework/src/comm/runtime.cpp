// DistributedRuntime: MPI start-up/shut-down, backend choice, fast failure.
#include "recforge/comm/runtime.hpp"

#ifdef RECFORGE_WITH_MPI
#include <mpi.h>

#include "comm/mpi_abort.hpp"
#include "comm/mpi_node.hpp"
#include "core/mpi_check.hpp"
#endif

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "recforge/core/cuda_runtime.hpp"
#include "recforge/core/error.hpp"
#include "recforge/core/fault.hpp"
#include "recforge/log/logging.hpp"

namespace recforge {

#ifdef RECFORGE_WITH_MPI
namespace {

// Every rank must use the same kind of device. run.device auto decides per
// node: a rank whose GPU is missing would take the MPI backend while the
// others start NCCL, and their set-up collectives would pair up wrongly
// (a hang until the watchdog, naming nobody).
void check_same_device_kind(Device device) {
  int size = 0;
  RF_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size));
  const int mine = device.is_cuda() ? 1 : 0;
  std::vector<int> all(static_cast<std::size_t>(size));
  RF_MPI_CHECK(MPI_Allgather(&mine, 1, MPI_INT, all.data(), 1, MPI_INT, MPI_COMM_WORLD));
  std::vector<int> on_cpu;
  for (int r = 0; r < size; ++r) {
    if (all[static_cast<std::size_t>(r)] == 0) on_cpu.push_back(r);
  }
  RF_CHECK_AGREED(ErrorKind::kConfig, on_cpu.empty() || static_cast<int>(on_cpu.size()) == size,
                  "run.device differs across ranks: rank(s) ", fmt::format("{}", fmt::join(on_cpu, ", ")),
                  " run on the CPU and the others on CUDA (with run.device auto: no working GPU on that node; "
                  "check nvidia-smi and CUDA_VISIBLE_DEVICES there, or set run.device for all ranks)");
}

}  // namespace
#endif

bool DistributedRuntime::built_with_mpi() {
#ifdef RECFORGE_WITH_MPI
  return true;
#else
  return false;
#endif
}

bool DistributedRuntime::built_with_nccl() { return cuda::compiled_with_cuda(); }

#ifdef RECFORGE_WITH_MPI
namespace {

// The thread level asked of MPI: multiple unless RECFORGE_MPI_THREAD_LEVEL
// says less (some MPI transports are slower with it). Only the watchdog calls
// MPI off the main thread, and only to end the job (detail::abort_mpi_job).
int requested_thread_level() {
  const char* text = std::getenv("RECFORGE_MPI_THREAD_LEVEL");
  const std::string level = text == nullptr ? "" : text;
  if (level.empty() || level == "multiple") return MPI_THREAD_MULTIPLE;
  if (level == "serialized") return MPI_THREAD_SERIALIZED;
  if (level == "funneled") return MPI_THREAD_FUNNELED;
  RF_THROW(ErrorKind::kConfig, "RECFORGE_MPI_THREAD_LEVEL='", level, "': expected multiple, serialized or funneled");
}

}  // namespace
#endif

DistributedRuntime::DistributedRuntime(int* argc, char*** argv) : launch_(read_launch_env()) {
#ifdef RECFORGE_WITH_MPI
  if (launch_.under_launcher) {
    const int requested = requested_thread_level();
    int provided = 0;
    if (MPI_Init_thread(argc, argv, requested, &provided) == MPI_SUCCESS) {
      mpi_ = true;
      const int announced = launch_.world_size;
      MPI_Comm_rank(MPI_COMM_WORLD, &launch_.rank);
      MPI_Comm_size(MPI_COMM_WORLD, &launch_.world_size);
      if (launch_.world_size != announced) {
        // srun without a PMI plugin MPI can use: every task is a job of one
        // rank, and all would train alone into the same run directory.
        MPI_Finalize();
        mpi_ = false;
        RF_THROW(ErrorKind::kConfig, "the launcher started ", announced, " tasks, but MPI sees a world of ",
                 launch_.world_size, ": MPI cannot reach the launcher's process manager (with srun, pass --mpi=pmix, "
                 "or the PMI plugin your site's MPI was built for: srun --mpi=list)");
      }
      // This node's ranks as MPI sees them: not every launcher says (srun
      // without --ntasks-per-node, PMIx), and a rank's threads and GPU follow
      // from its place on the node.
      const detail::NodePlace place = detail::node_place(MPI_COMM_WORLD, launch_.rank);
      launch_.local_rank = place.local_rank;
      launch_.local_size = place.local_size;
      if (provided < MPI_THREAD_MULTIPLE && launch_.rank == 0) {
        const std::string what = fmt::format(
            "MPI thread level {} (below MULTIPLE): the watchdog ends a stuck job by exiting, and mpirun ends the "
            "other ranks", provided);
        if (provided < requested) log::warn("{}", what);
        else log::info("{}", what);
      }
    }
  }
#else
  (void)argc;
  (void)argv;
#endif
}

DistributedRuntime::~DistributedRuntime() {
#ifdef RECFORGE_WITH_MPI
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (mpi_ && !finalized) MPI_Finalize();
#endif
}

std::unique_ptr<Communicator> DistributedRuntime::make_communicator(const std::string& backend, Device device,
                                                                     double init_timeout_seconds) {
  const bool multi = launch_.world_size > 1 || mpi_;
  // Ranks this process cannot reach (an RECFORGE_MPI=OFF build under mpirun
  // or srun) would each train alone into one run directory.
  RF_CHECK_KIND(ErrorKind::kConfig, launch_.world_size == 1 || mpi_, "the launcher started ", launch_.world_size,
                " ranks, but ", built_with_mpi() ? "MPI did not start" : "recforge was built with RECFORGE_MPI=OFF",
                ", so each would train alone; start one process, or use a build with MPI");
#ifdef RECFORGE_WITH_MPI
  if (mpi_) check_same_device_kind(device);
#endif
  if (backend == "single") {
    RF_CHECK_KIND(ErrorKind::kConfig, !multi || launch_.world_size == 1, "comm.backend single, but the job has ",
                  launch_.world_size, " ranks");
    return make_single_communicator();
  }
  if (backend == "mpi" || (backend == "auto" && device.is_cpu())) {
    if (backend == "auto" && !mpi_) return make_single_communicator();
    RF_CHECK_KIND(ErrorKind::kConfig, built_with_mpi(), "comm.backend mpi, but recforge was built with RECFORGE_MPI=OFF");
    RF_CHECK_KIND(ErrorKind::kConfig, device.is_cpu(), "comm.backend mpi moves CPU tensors only, but run.device is ",
                  device.str(), " (use comm.backend nccl or auto)");
    RF_CHECK_KIND(ErrorKind::kConfig, mpi_, "comm.backend mpi needs the job to be started by mpirun or srun");
    return make_mpi_communicator();
  }
  if (backend == "nccl" || backend == "auto") {
    RF_CHECK_KIND(ErrorKind::kConfig, device.is_cuda(), "comm.backend nccl needs run.device cuda");
    std::unique_ptr<Communicator> bootstrap = mpi_ ? make_mpi_communicator() : make_single_communicator();
    return make_nccl_communicator(std::move(bootstrap), device.index, init_timeout_seconds);
  }
  RF_THROW(ErrorKind::kConfig, "unknown comm.backend '", backend, "' (auto, single, mpi, nccl)");
}

void DistributedRuntime::fail(int exit_code, const std::string& message) {
  log::error("{}", message);
  // Tests delay here (RF_FAULT=delay:phase=job_abort) to hear every rank's
  // decision before the first abort takes the job down.
  fault::at_phase(launch_.rank, "job_abort");
#ifdef RECFORGE_WITH_MPI
  if (mpi_ && launch_.world_size > 1) detail::abort_mpi_job(exit_code);
#endif
  std::_Exit(exit_code);
}

void DistributedRuntime::stop_together(int exit_code, const std::string& message) {
#ifdef RECFORGE_WITH_MPI
  if (mpi_ && launch_.world_size > 1) {
    log::error("{}", message);
    fault::at_phase(launch_.rank, "stop_together");  // a test holds one rank back here
    MPI_Request arrived = MPI_REQUEST_NULL;
    int done = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(kStopTogetherSeconds);
    if (MPI_Ibarrier(MPI_COMM_WORLD, &arrived) == MPI_SUCCESS) {
      while (MPI_Test(&arrived, &done, MPI_STATUS_IGNORE) == MPI_SUCCESS && !done &&
             std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    if (!done) {
      fail(exit_code, fmt::format("rank {}: not every rank reached the agreed stop within {} s; aborting the job",
                                  launch_.rank, kStopTogetherSeconds));
    }
    MPI_Finalize();
    std::_Exit(exit_code);
  }
#endif
  fail(exit_code, message);
}

}  // namespace recforge
