// Keeps the newest verified checkpoint version of a directory loaded and swaps
// it in atomically (hot reload): requests hold a shared_ptr to the snapshot
// they started with, so a swap never tears a request and the old version is
// freed when its last request ends. A version that fails verification or
// loading is logged, counted and skipped; the current one keeps serving. A
// failure about the version itself (hash, format, contents) is final until
// the version is published anew; one of the machine's (an I/O error, no
// memory, no file descriptor left) is tried again after retry_interval.
// Served versions never go backwards.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "recforge/checkpoint/repository.hpp"
#include "recforge/serve/snapshot.hpp"

namespace recforge::serve {

class ModelWatcher {
 public:
  // `dir`: a checkpoint directory or a run directory. Until a version loads it
  // is resolved again at each poll: a server started beside its training job
  // may see runs/<name> before the job marks it as a run directory.
  ModelWatcher(std::string dir, SnapshotOptions options, std::chrono::milliseconds poll_interval,
               std::chrono::milliseconds retry_interval = std::chrono::seconds(30));
  ~ModelWatcher();
  ModelWatcher(const ModelWatcher&) = delete;
  ModelWatcher& operator=(const ModelWatcher&) = delete;

  // The snapshot to serve (null until a version loaded).
  std::shared_ptr<const Snapshot> current() const {
    std::lock_guard<std::mutex> lock(current_mutex_);
    return current_;
  }
  // Looks at the directory once and loads a version newer than the current one
  // if one verifies; true when it swapped.
  bool poll_once();
  // Polls every poll_interval on a background thread until stop().
  void start();
  void stop();

  std::int64_t reloads() const { return reloads_.load(); }
  // Failed loads, every attempt (a version this machine could not read is
  // tried again, and counted again), and the versions refused for good.
  std::int64_t failures() const { return failures_.load(); }
  std::int64_t refused() const { return refused_.load(); }
  // The checkpoint directory watched now.
  std::string dir() const {
    std::lock_guard<std::mutex> lock(dir_mutex_);
    return repository_.dir();
  }

 private:
  bool stopping() const;
  void resolve_dir();
  std::string given_dir_;
  mutable std::mutex dir_mutex_;  // repository_ may change (resolve_dir) while a request reads dir()
  checkpoint::CheckpointRepository repository_;
  SnapshotOptions options_;
  std::chrono::milliseconds poll_interval_, retry_interval_;
  // A mutex rather than std::atomic<std::shared_ptr>: libstdc++ 12 implements
  // that with a lock bit ThreadSanitizer cannot see (it reports the swap as a
  // race), and a request holds the lock only to copy the pointer.
  mutable std::mutex current_mutex_;
  std::shared_ptr<const Snapshot> current_;
  std::atomic<std::int64_t> reloads_{0}, failures_{0}, refused_{0};
  std::mutex poll_mutex_;          // one poll at a time (thread and /v1/reload)
  // Versions refused: tried again when published anew under the same name
  // (another manifest time), or after retry_at (a failure that may pass).
  struct Refusal {
    std::filesystem::file_time_type published;
    std::chrono::steady_clock::time_point retry_at;
  };
  std::map<std::string, Refusal> rejected_;
  mutable std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace recforge::serve
