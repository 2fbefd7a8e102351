// Keeps the newest verified checkpoint version of a directory loaded and swaps
// it in atomically (hot reload): requests hold a shared_ptr to the snapshot
// they started with, so a swap never tears a request and the old version is
// freed when its last request ends. A version that fails verification or
// loading is logged once, counted and skipped; the current one keeps serving.
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
  ModelWatcher(std::string dir, SnapshotOptions options, std::chrono::milliseconds poll_interval);
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
  std::int64_t failures() const { return failures_.load(); }
  const std::string& dir() const { return repository_.dir(); }

 private:
  checkpoint::CheckpointRepository repository_;
  SnapshotOptions options_;
  std::chrono::milliseconds poll_interval_;
  // A mutex rather than std::atomic<std::shared_ptr>: libstdc++ 12 implements
  // that with a lock bit ThreadSanitizer cannot see (it reports the swap as a
  // race), and a request holds the lock only to copy the pointer.
  mutable std::mutex current_mutex_;
  std::shared_ptr<const Snapshot> current_;
  std::atomic<std::int64_t> reloads_{0}, failures_{0};
  std::mutex poll_mutex_;          // one poll at a time (thread and /v1/reload)
  // Versions refused, with their manifest's modification time: a version is
  // tried again only when it is published anew under the same name.
  std::map<std::string, std::filesystem::file_time_type> rejected_;
  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace recforge::serve
