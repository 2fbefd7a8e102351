// Watchdog thread: collective deadlines, backend polling, heartbeat files.
#include "recforge/comm/watchdog.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "comm/heartbeats.hpp"

namespace recforge {

Watchdog::Watchdog(Options options, int rank, int world_size, TimeoutHandler on_timeout)
    : options_(std::move(options)), rank_(rank), on_timeout_(std::move(on_timeout)) {
  if (!options_.heartbeat_dir.empty()) heartbeats_ = std::make_unique<Heartbeats>(options_.heartbeat_dir, rank, world_size);
  thread_ = std::thread([this] { run(); });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Watchdog::IoWait::IoWait(Watchdog* watchdog, std::string why) : watchdog_(watchdog) {
  if (!watchdog_) return;
  std::lock_guard lock(watchdog_->mutex_);
  watchdog_->io_wait_ = std::move(why);
}

Watchdog::IoWait::~IoWait() {
  if (!watchdog_) return;
  std::lock_guard lock(watchdog_->mutex_);
  watchdog_->io_wait_.clear();
}

void Watchdog::publish_state() {
  if (heartbeats_) heartbeats_->set(completed_, in_flight_);
}

void Watchdog::begin(std::uint64_t sequence, std::string description) {
  std::lock_guard lock(mutex_);
  in_flight_ = true;
  phase_ = false;
  sequence_ = sequence;
  description_ = std::move(description);
  deadline_reason_ = io_wait_;
  deadline_seconds_ = io_wait_.empty() ? options_.timeout_seconds
                                       : std::max(options_.timeout_seconds, options_.io_timeout_seconds);
  started_ = std::chrono::steady_clock::now();
  publish_state();
}

void Watchdog::begin_phase(std::string description) {
  std::lock_guard lock(mutex_);
  in_flight_ = true;
  phase_ = true;
  description_ = std::move(description);
  deadline_reason_.clear();
  deadline_seconds_ = options_.timeout_seconds;
  started_ = std::chrono::steady_clock::now();
  publish_state();
}

void Watchdog::end() {
  std::lock_guard lock(mutex_);
  in_flight_ = false;
  if (!phase_) completed_ = sequence_ + 1;
  phase_ = false;
  publish_state();
}

void Watchdog::set_poll(Poll poll) {
  std::lock_guard lock(mutex_);
  poll_ = std::move(poll);
}

std::string Watchdog::describe_peers() const {
  if (!heartbeats_) return "no heartbeat directory, peers unknown";
  std::uint64_t mine = 0;
  {
    std::lock_guard lock(mutex_);
    mine = sequence_;
  }
  return heartbeats_->describe_peers(mine, std::chrono::seconds(2));
}

void Watchdog::run() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    wake_.wait_for(lock, std::chrono::duration<double>(options_.poll_seconds));
    if (stop_) break;
    const auto now = std::chrono::steady_clock::now();
    std::optional<std::string> failure;
    if (poll_) {
      Poll poll = poll_;
      lock.unlock();
      failure = poll();
      lock.lock();
    }
    if (!failure && in_flight_) {
      const double waited = std::chrono::duration<double>(now - started_).count();
      if (waited > deadline_seconds_) {
        const std::string what = phase_ ? description_ : fmt::format("collective #{} {}", sequence_, description_);
        // Named by the key that set the deadline (an I/O wait takes the longer of the two).
        const bool io = !deadline_reason_.empty() && options_.io_timeout_seconds > options_.timeout_seconds;
        failure = fmt::format("rank {}: {} did not complete within {:.0f} s ({}{})", rank_, what, deadline_seconds_,
                              io ? "comm.io_timeout: " : "watchdog timeout",
                              deadline_reason_.empty() ? "" : (io ? "" : ", while ") + deadline_reason_);
        lock.unlock();
        *failure += "; " + describe_peers();
        lock.lock();
      }
    }
    if (failure) {
      TimeoutHandler handler = on_timeout_;
      lock.unlock();
      handler(*failure);  // aborts the job; does not return in production
      lock.lock();
      stop_ = true;
      break;
    }
  }
}

}  // namespace recforge
