// The server's connection threads. An HTTP/1.1 connection holds its thread
// while it is open (cpp-httplib reads a request line by line with blocking
// reads), so a fixed pool of N threads is held hostage by N idle or
// slow-header clients and a health probe behind them waits for their
// timeouts. This pool starts a thread for every task that finds no idle one,
// up to `max_threads` (beyond it tasks queue), and lets threads idle for
// `idle_timeout` exit down to `min_threads`. Threads get a small, fixed stack
// so that the ceiling bounds the address space the server may reserve.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>

namespace recforge::serve {

struct ElasticThreadPoolOptions {
  int min_threads = 4;
  int max_threads = 512;
  std::chrono::milliseconds idle_timeout{30000};
  std::size_t stack_bytes = std::size_t{2} << 20;
};

class ElasticThreadPool {
 public:
  explicit ElasticThreadPool(ElasticThreadPoolOptions options);
  ~ElasticThreadPool();  // shutdown()
  ElasticThreadPool(const ElasticThreadPool&) = delete;
  ElasticThreadPool& operator=(const ElasticThreadPool&) = delete;

  // Runs `task` on an idle thread, a new one, or (at the ceiling) the first
  // thread to finish. Throws recforge::Error after shutdown or when no thread
  // can be started at all.
  void submit(std::function<void()> task);

  // Runs the queued tasks, then joins every thread. Idempotent.
  void shutdown();

  int threads() const;       // alive now
  int peak_threads() const;  // most alive at once
  std::size_t queued() const;

 private:
  static void* thread_main(void* pool);
  void work();
  bool start_thread_locked();

  ElasticThreadPoolOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable work_available_;
  std::condition_variable all_exited_;
  std::deque<std::function<void()>> tasks_;
  int threads_ = 0, idle_ = 0, peak_ = 0;
  bool stopping_ = false;
};

}  // namespace recforge::serve
