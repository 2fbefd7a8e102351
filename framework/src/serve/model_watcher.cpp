// Hot reload of checkpoint versions (see model_watcher.hpp).
#include "recforge/serve/model_watcher.hpp"

#include <algorithm>
#include <utility>

#include "recforge/core/error.hpp"
#include "recforge/log/logging.hpp"

namespace recforge::serve {

ModelWatcher::ModelWatcher(std::string dir, SnapshotOptions options, std::chrono::milliseconds poll_interval)
    : repository_(std::move(dir)), options_(options), poll_interval_(poll_interval) {}

ModelWatcher::~ModelWatcher() { stop(); }

bool ModelWatcher::poll_once() {
  std::lock_guard<std::mutex> lock(poll_mutex_);
  const std::shared_ptr<const Snapshot> serving = current();
  std::vector<checkpoint::Version> versions = repository_.list();
  std::reverse(versions.begin(), versions.end());  // newest first
  for (const checkpoint::Version& v : versions) {
    if (serving && v.step <= serving->step()) break;
    std::error_code ec;
    const auto published = std::filesystem::last_write_time(
        std::filesystem::path(v.path) / checkpoint::kManifestFile, ec);
    if (const auto it = rejected_.find(v.name); it != rejected_.end() && (ec || it->second == published)) continue;
    try {
      const checkpoint::LoadedVersion loaded = repository_.load(v);
      std::shared_ptr<const Snapshot> next = Snapshot::load(loaded, options_);
      std::shared_ptr<const Snapshot> previous;
      {
        std::lock_guard<std::mutex> swap_lock(current_mutex_);
        previous = std::exchange(current_, std::move(next));
      }  // the old version is freed outside the lock (when no request holds it)
      ++reloads_;
      log::info("serving {} (step {}){}", v.path, v.step,
                serving ? " in place of " + serving->version() : std::string());
      return true;
    } catch (const std::exception& e) {
      // Deleted by retention while we looked, corrupt, incompatible: skip it
      // until it is published again.
      ++failures_;
      rejected_[v.name] = published;
      log::warn("refused checkpoint version {}: {}{}", v.name, e.what(),
                serving ? "; still serving " + serving->version() : std::string());
    }
  }
  return false;
}

void ModelWatcher::start() {
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(stop_mutex_);
    while (!stopping_) {
      lock.unlock();
      try {
        poll_once();
      } catch (const std::exception& e) {
        log::warn("checkpoint poll of {} failed: {}", repository_.dir(), e.what());
      }
      lock.lock();
      stop_cv_.wait_for(lock, poll_interval_, [this] { return stopping_; });
    }
  });
}

void ModelWatcher::stop() {
  {
    std::lock_guard<std::mutex> lock(stop_mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace recforge::serve
