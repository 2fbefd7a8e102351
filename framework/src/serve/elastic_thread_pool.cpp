#include "recforge/serve/elastic_thread_pool.hpp"

#include <pthread.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <utility>

#include "recforge/core/error.hpp"
#include "recforge/log/logging.hpp"

namespace recforge::serve {

ElasticThreadPool::ElasticThreadPool(ElasticThreadPoolOptions options) : options_(options) {
  RF_CHECK(options_.min_threads >= 0 && options_.max_threads >= 1 && options_.min_threads <= options_.max_threads,
           "thread pool bounds must satisfy 0 <= min (", options_.min_threads, ") <= max (", options_.max_threads,
           "), max >= 1");
  RF_CHECK(std::cmp_greater_equal(options_.stack_bytes, PTHREAD_STACK_MIN), "thread stack of ", options_.stack_bytes, " bytes is too small");
}

ElasticThreadPool::~ElasticThreadPool() { shutdown(); }

void ElasticThreadPool::submit(std::function<void()> task) {
  std::unique_lock lock(mutex_);
  RF_CHECK(!stopping_, "thread pool is shut down");
  tasks_.push_back(std::move(task));
  // Every queued task needs a thread of its own: a connection task may block
  // for seconds, so no task waits for another while the ceiling allows.
  if (std::cmp_greater(tasks_.size(), idle_) && threads_ < options_.max_threads && !start_thread_locked()) {
    RF_CHECK(threads_ > 0, "cannot start a thread for the server: ", std::strerror(errno));
    log::warn("cannot start another server thread ({} running): {}; the request waits", threads_,
              std::strerror(errno));
  }
  work_available_.notify_one();
}

bool ElasticThreadPool::start_thread_locked() {
  pthread_attr_t attributes;
  if (pthread_attr_init(&attributes) != 0) return false;
  pthread_attr_setstacksize(&attributes, options_.stack_bytes);
  pthread_t thread;
  const int rc = pthread_create(&thread, &attributes, &ElasticThreadPool::thread_main, this);
  pthread_attr_destroy(&attributes);
  if (rc != 0) {
    errno = rc;
    return false;
  }
  // Detached: an idle thread that exits leaves nothing to join. shutdown()
  // waits for the count to reach zero instead, and each thread's last touch
  // of the pool is under the mutex.
  pthread_detach(thread);
  ++threads_;
  peak_ = std::max(peak_, threads_);
  return true;
}

void* ElasticThreadPool::thread_main(void* pool) {
  static_cast<ElasticThreadPool*>(pool)->work();
  return nullptr;
}

void ElasticThreadPool::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    ++idle_;
    const bool woken = work_available_.wait_for(lock, options_.idle_timeout,
                                                [this] { return !tasks_.empty() || stopping_; });
    --idle_;
    if (tasks_.empty() && (stopping_ || (!woken && threads_ > options_.min_threads))) break;
    if (tasks_.empty()) continue;
    std::function<void()> task = std::move(tasks_.front());
    tasks_.pop_front();
    lock.unlock();
    try {
      task();
    } catch (const std::exception& e) {
      log::error("a server connection task failed: {}", e.what());
    } catch (...) {
      log::error("a server connection task failed with an unknown exception");
    }
    task = nullptr;  // release what the task holds before waiting again
    lock.lock();
  }
  --threads_;
  all_exited_.notify_all();
}

void ElasticThreadPool::shutdown() {
  std::unique_lock lock(mutex_);
  stopping_ = true;
  work_available_.notify_all();
  all_exited_.wait(lock, [this] { return threads_ == 0; });
}

int ElasticThreadPool::threads() const {
  std::lock_guard lock(mutex_);
  return threads_;
}

int ElasticThreadPool::peak_threads() const {
  std::lock_guard lock(mutex_);
  return peak_;
}

std::size_t ElasticThreadPool::queued() const {
  std::lock_guard lock(mutex_);
  return tasks_.size();
}

}  // namespace recforge::serve
