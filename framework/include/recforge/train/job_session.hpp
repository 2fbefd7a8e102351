// JobSession: what every rank of a job sets up before it touches data, shared
// by `recforge train` and `recforge evaluate`:
//
//   device (run.device; CUDA: the GPU of this local rank), resources, threads
//   -> the watchdog that aborts the whole job when the communicator's set-up
//      or a collective hangs (comm.watchdog_timeout)
//   -> communicator (comm.backend), logging with the rank prefix; the
//      watchdog then polls NCCL's asynchronous errors
//
// and the two checks every rank makes together: same config, same data.
// `recforge preflight` sets up the same way.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "recforge/config/config_node.hpp"
#include "recforge/core/resources.hpp"

namespace recforge {
class Communicator;
class DistributedRuntime;
class Watchdog;
namespace data {
struct Dataset;
}

class JobSession {
 public:
  // `heartbeat_dir`: where per-rank heartbeats go when comm.heartbeats is on
  // (empty: none; they name the stuck rank in a watchdog message).
  JobSession(const ConfigNode& job, DistributedRuntime& runtime, const std::string& heartbeat_dir);
  ~JobSession();
  JobSession(const JobSession&) = delete;
  JobSession& operator=(const JobSession&) = delete;

  Device device() const { return resources_.device(); }
  const Resources& resources() const { return resources_; }
  Communicator& comm() { return *comm_; }

  // Every rank must run the same config: a kConfig error naming up to three
  // keys that differ (every rank throws it, so none waits in a collective).
  // Until it passes, the desync check is off: ranks whose comm.desync_check
  // differ would otherwise issue different collectives for the comparison.
  void check_same_config(const std::string& config_text);
  // The data section prepared on every rank: rank 0 first (it writes the
  // cache), then the others from the cache; a kData error when the ranks'
  // fingerprints differ (different files on different nodes).
  data::Dataset prepare_dataset(const ConfigNode& data_section, std::uint64_t seed);

 private:
  Resources resources_;
  std::unique_ptr<Communicator> comm_;
  std::atomic<Communicator*> abort_through_{nullptr};  // the watchdog's thread reads it
  std::unique_ptr<Watchdog> watchdog_;  // after comm_: stops before it goes
  bool desync_check_ = true;  // comm.desync_check, applied once the configs agree
};

}  // namespace recforge
