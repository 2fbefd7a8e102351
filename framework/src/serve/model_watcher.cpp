// Hot reload of checkpoint versions (see model_watcher.hpp).
#include "recforge/serve/model_watcher.hpp"

#include <algorithm>
#include <new>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "recforge/core/error.hpp"
#include "recforge/log/logging.hpp"

namespace recforge::serve {

namespace {

// Whether a load failure says something about the version (it will fail the
// same way again) rather than about this moment on this machine.
bool about_the_version(const std::exception& e) {
  const auto* error = dynamic_cast<const Error*>(&e);
  if (error == nullptr) {  // no memory, a system call's error: may pass; anything else is the version's
    return dynamic_cast<const std::bad_alloc*>(&e) == nullptr && dynamic_cast<const std::system_error*>(&e) == nullptr;
  }
  switch (error->kind()) {
    case ErrorKind::kData:
    case ErrorKind::kConfig:
    case ErrorKind::kHdf5:  // (parsed from bytes already in memory)
    case ErrorKind::kInvalidArgument:
    case ErrorKind::kNumerical:
      return true;
    default:
      return false;  // kIo (EMFILE, EIO), kNotFound (retention deleted it: gone from the next listing)
  }
}

}  // namespace

ModelWatcher::ModelWatcher(std::string dir, SnapshotOptions options, std::chrono::milliseconds poll_interval,
                           std::chrono::milliseconds retry_interval)
    : given_dir_(std::move(dir)),
      repository_(checkpoint::checkpoint_dir_of(given_dir_)),
      options_(options),
      poll_interval_(poll_interval),
      retry_interval_(retry_interval) {}

void ModelWatcher::resolve_dir() {
  const std::string resolved = checkpoint::checkpoint_dir_of(given_dir_);
  if (resolved == repository_.dir()) return;
  log::info("{} is a run directory now: watching {}", given_dir_, resolved);
  std::lock_guard<std::mutex> lock(dir_mutex_);
  repository_ = checkpoint::CheckpointRepository(resolved);
  rejected_.clear();
}

ModelWatcher::~ModelWatcher() { stop(); }

bool ModelWatcher::poll_once() {
  std::lock_guard<std::mutex> lock(poll_mutex_);
  const std::shared_ptr<const Snapshot> serving = current();
  if (!serving) resolve_dir();
  std::vector<checkpoint::Version> versions = repository_.list();
  std::reverse(versions.begin(), versions.end());  // newest first
  for (const checkpoint::Version& v : versions) {
    if (serving && v.step <= serving->step()) break;
    if (stopping()) break;  // the server is shutting down: no older version either
    std::error_code ec;
    const auto published = std::filesystem::last_write_time(
        std::filesystem::path(v.path) / checkpoint::kManifestFile, ec);
    if (const auto it = rejected_.find(v.name); it != rejected_.end() && (ec || it->second.published == published) &&
                                                 std::chrono::steady_clock::now() < it->second.retry_at) {
      continue;
    }
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
      // Corrupt or incompatible: skipped until published again. Deleted by
      // retention while we looked, or this machine's trouble: tried again.
      ++failures_;
      const bool final = about_the_version(e);
      if (final) ++refused_;
      rejected_[v.name] = {published, final ? std::chrono::steady_clock::time_point::max()
                                            : std::chrono::steady_clock::now() + retry_interval_};
      log::warn("{} checkpoint version {}: {}{}{}", final ? "refused" : "could not load", v.name, e.what(),
                final ? std::string() : fmt::format(" (trying again in {} s)", retry_interval_.count() / 1000.0),
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
        log::warn("checkpoint poll of {} failed: {}", dir(), e.what());
      }
      lock.lock();
      stop_cv_.wait_for(lock, poll_interval_, [this] { return stopping_; });
    }
  });
}

bool ModelWatcher::stopping() const {
  std::lock_guard<std::mutex> lock(stop_mutex_);
  return stopping_;
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
