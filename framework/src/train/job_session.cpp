// JobSession: a rank's device, communicator and watchdog (see job_session.hpp).
#include "recforge/train/job_session.hpp"

#include <omp.h>

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

#include "recforge/comm/runtime.hpp"
#include "recforge/comm/watchdog.hpp"
#include "recforge/config/config_diff.hpp"
#include "recforge/core/fault.hpp"
#include "recforge/core/sha256.hpp"
#include "recforge/data/prepare.hpp"
#include "recforge/log/logging.hpp"
#include "recforge/train/run.hpp"

namespace recforge {
namespace {

// run.threads, else OMP_NUM_THREADS, else this node's cores shared among its
// ranks: OpenMP's default (every core in every rank) would oversubscribe a node
// running several, and only the rank knows how many share its node.
int threads_per_rank(const ConfigNode& run, const LaunchEnv& launch) {
  const auto configured = static_cast<int>(run.get_int("threads"));
  if (configured > 0 || std::getenv("OMP_NUM_THREADS") != nullptr || launch.local_size <= 1) return configured;
  return std::max(1, omp_get_num_procs() / launch.local_size);
}

Resources resources_for(const ConfigNode& run, const DistributedRuntime& runtime) {
  const Device device = choose_device(run.get_string("device"), runtime.launch().local_rank);
  const int threads = threads_per_rank(run, runtime.launch());
  if (threads > 0) omp_set_num_threads(threads);
  return Resources::for_device(device, threads);
}

}  // namespace

JobSession::JobSession(const ConfigNode& job, DistributedRuntime& runtime, const std::string& heartbeat_dir)
    : resources_(resources_for(job.section("run"), runtime)) {
  const ConfigNode& run = job.section("run");
  const ConfigNode& comm_config = job.section("comm");
  const int rank = runtime.launch().rank;
  // The watchdog comes first: the communicator's set-up waits on every peer
  // too (NCCL's unique-id exchange over MPI, then its init), and a rank stuck
  // before it must not hang the others. Until the communicator exists, a
  // timeout ends the job through MPI_Abort.
  watchdog_ = std::make_unique<Watchdog>(
      Watchdog::Options{.timeout_seconds = comm_config.get_double("watchdog_timeout"),
                        .io_timeout_seconds = comm_config.get_double("io_timeout"),
                        .heartbeat_dir = comm_config.get_bool("heartbeats") ? heartbeat_dir : std::string()},
      rank, runtime.launch().world_size, [this, &runtime](const std::string& message) {
        if (Communicator* comm = abort_through_.load()) comm->abort(4, message);
        runtime.fail(4, message);
      });
  const std::string backend = comm_config.get_string("backend");
  watchdog_->begin_phase(fmt::format("communicator set-up (comm.backend {} on {})", backend, resources_.device().str()));
  fault::at_phase(rank, "comm_setup");
  comm_ = runtime.make_communicator(backend, resources_.device(), comm_config.get_double("watchdog_timeout"));
  watchdog_->end();
  abort_through_ = comm_.get();
  log::init(comm_->rank(), comm_->world_size(), log::parse_level(run.get_string("log_level")),
            run.get_bool("log_all_ranks"));
  Communicator* raw_comm = comm_.get();
  watchdog_->set_poll([raw_comm] { return raw_comm->async_error(); });
  desync_check_ = comm_config.get_bool("desync_check");
  comm_->set_desync_check(desync_check_);
  if (resources_.device().is_cuda()) comm_->set_stream(resources_.stream());
  comm_->set_watchdog(watchdog_.get());  // last: nothing after it may throw past a half-built session
}

JobSession::~JobSession() {
  if (comm_) comm_->set_watchdog(nullptr);
}

void JobSession::check_same_config(const std::string& config_text) {
  comm_->set_desync_check(false);
  const std::string hash = Sha256::hex(Sha256::of(config_text.data(), config_text.size()));
  const auto hashes = comm_->allgather_string(hash);
  if (std::all_of(hashes.begin(), hashes.end(), [&](const std::string& h) { return h == hashes[0]; })) {
    comm_->set_desync_check(desync_check_);
    return;
  }
  // Every rank sees the same hashes and takes this branch: gather the texts to
  // say which keys differ.
  const auto texts = comm_->allgather_string(config_text);
  for (int r = 1; r < comm_->world_size(); ++r) {
    if (hashes[static_cast<std::size_t>(r)] == hashes[0]) continue;
    auto differences =
        config_differences(texts[0], "rank 0", texts[static_cast<std::size_t>(r)], "rank " + std::to_string(r));
    if (differences.size() > 3) differences.resize(3);
    const std::string which =
        differences.empty() ? std::string("their texts differ") : fmt::format("{}", fmt::join(differences, "; "));
    RF_THROW_AGREED(ErrorKind::kConfig, "rank 0 and rank ", r, " run different configs (", which,
                    "); start every rank with the same command line and files");
  }
}

data::Dataset JobSession::prepare_dataset(const ConfigNode& data_section, std::uint64_t seed) {
  data::Dataset dataset;
  std::vector<std::string> fingerprints;
  {
    // Rank 0 reads and caches the data while the others wait; then they read its cache.
    const Watchdog::IoWait io(watchdog_.get(), "rank 0 prepares the data, then the others load it");
    if (comm_->rank() == 0) dataset = data::prepare_dataset(data_section, seed);
    comm_->barrier();
    if (comm_->rank() != 0) dataset = data::prepare_dataset(data_section, seed);
    fingerprints = comm_->allgather_string(dataset.fingerprint);
  }
  for (int r = 1; r < comm_->world_size(); ++r) {
    RF_CHECK_AGREED(ErrorKind::kData, fingerprints[static_cast<std::size_t>(r)] == fingerprints[0], "rank ", r,
                    " prepared different data from rank 0 (fingerprints ", fingerprints[0].substr(0, 12), " and ",
                    fingerprints[static_cast<std::size_t>(r)].substr(0, 12),
                    "); are the data files the same on every node?");
  }
  return dataset;
}

}  // namespace recforge
