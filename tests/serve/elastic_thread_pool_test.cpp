// The server's connection threads: every blocking task gets a thread of its
// own up to the ceiling (so idle connections cannot starve a health probe),
// tasks beyond it wait and then run, idle threads exit down to the minimum,
// shutdown runs what is queued, and a throwing task does not lose its thread.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "recforge/core/error.hpp"
#include "recforge/serve/elastic_thread_pool.hpp"

namespace recforge::serve {
namespace {

using namespace std::chrono_literals;

// Tasks that block until released, counting how many are running at once.
class Gate {
 public:
  std::function<void()> task() {
    return [this] {
      std::unique_lock lock(mutex_);
      ++running_;
      peak_ = std::max(peak_, running_);
      changed_.notify_all();
      changed_.wait(lock, [this] { return open_; });
      --running_;
      ++finished_;
      changed_.notify_all();
    };
  }
  // False if `count` tasks are not running together within a few seconds.
  bool wait_running(int count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 5s, [&] { return running_ >= count; });
  }
  bool wait_finished(int count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 5s, [&] { return finished_ >= count; });
  }
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  int peak() {
    std::lock_guard lock(mutex_);
    return peak_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int running_ = 0, peak_ = 0, finished_ = 0;
  bool open_ = false;
};

bool eventually(const std::function<bool()>& condition) {
  for (auto deadline = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < deadline;) {
    if (condition()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return condition();
}

TEST(ElasticThreadPool, EveryBlockingTaskGetsAThreadUpToTheCeiling) {
  ElasticThreadPool pool({.min_threads = 2, .max_threads = 64});
  Gate gate;
  for (int i = 0; i < 40; ++i) pool.submit(gate.task());
  // A fixed pool of 2 would run 2 and leave 38 waiting behind them.
  EXPECT_TRUE(gate.wait_running(40));
  EXPECT_EQ(pool.threads(), 40);
  EXPECT_EQ(pool.queued(), 0u);
  gate.open();
  EXPECT_TRUE(gate.wait_finished(40));
}

TEST(ElasticThreadPool, TasksBeyondTheCeilingWaitAndThenRun) {
  ElasticThreadPool pool({.min_threads = 1, .max_threads = 4});
  Gate gate;
  for (int i = 0; i < 10; ++i) pool.submit(gate.task());
  EXPECT_TRUE(gate.wait_running(4));
  std::this_thread::sleep_for(50ms);  // give a fifth thread the chance to appear if it would
  EXPECT_EQ(pool.threads(), 4);
  EXPECT_EQ(pool.queued(), 6u);
  gate.open();
  EXPECT_TRUE(gate.wait_finished(10));
  EXPECT_EQ(gate.peak(), 4);
  EXPECT_EQ(pool.peak_threads(), 4);
}

TEST(ElasticThreadPool, IdleThreadsExitDownToTheMinimum) {
  ElasticThreadPool pool({.min_threads = 2, .max_threads = 16, .idle_timeout = 50ms});
  Gate gate;
  for (int i = 0; i < 8; ++i) pool.submit(gate.task());
  EXPECT_TRUE(gate.wait_running(8));
  gate.open();
  EXPECT_TRUE(gate.wait_finished(8));
  EXPECT_TRUE(eventually([&] { return pool.threads() == 2; })) << pool.threads() << " threads left";
  std::this_thread::sleep_for(200ms);  // the minimum stays
  EXPECT_EQ(pool.threads(), 2);
  std::atomic<int> ran{0};
  pool.submit([&] { ++ran; });
  EXPECT_TRUE(eventually([&] { return ran.load() == 1; }));
}

TEST(ElasticThreadPool, ShutdownRunsQueuedTasksAndRefusesNewOnes) {
  ElasticThreadPool pool({.min_threads = 1, .max_threads = 1});
  std::atomic<int> ran{0};
  for (int i = 0; i < 20; ++i) pool.submit([&] {
      std::this_thread::sleep_for(1ms);
      ++ran;
    });
  pool.shutdown();
  EXPECT_EQ(ran.load(), 20);
  EXPECT_EQ(pool.threads(), 0);
  try {
    pool.submit([] {});
    FAIL() << "a task was accepted after shutdown";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("thread pool is shut down"), std::string::npos) << e.what();
  }
  pool.shutdown();  // again: nothing to do
}

TEST(ElasticThreadPool, AThrowingTaskKeepsItsThread) {
  ElasticThreadPool pool({.min_threads = 1, .max_threads = 1});
  std::atomic<int> ran{0};
  pool.submit([] { throw std::runtime_error("boom"); });
  pool.submit([&] { ++ran; });
  EXPECT_TRUE(eventually([&] { return ran.load() == 1; }));
  EXPECT_EQ(pool.threads(), 1);
}

TEST(ElasticThreadPool, RefusesImpossibleBounds) {
  EXPECT_THROW(ElasticThreadPool({.min_threads = 5, .max_threads = 4}), Error);
  EXPECT_THROW(ElasticThreadPool({.min_threads = 0, .max_threads = 0}), Error);
  EXPECT_THROW(ElasticThreadPool({.min_threads = 1, .max_threads = 2, .stack_bytes = 1024}), Error);
}

}  // namespace
}  // namespace recforge::serve
