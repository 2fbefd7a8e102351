// Watchdog thread: collective deadlines, backend polling, heartbeat files.
#include "recforge/comm/watchdog.hpp"

#include <fmt/format.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace recforge {
namespace {

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Watchdog::Watchdog(Options options, int rank, int world_size, TimeoutHandler on_timeout)
    : options_(std::move(options)), rank_(rank), world_size_(world_size), on_timeout_(std::move(on_timeout)) {
  if (!options_.heartbeat_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(options_.heartbeat_dir, ec);
    write_heartbeat();  // before any collective, so even a rank stuck at once is named
  }
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

void Watchdog::begin(std::uint64_t sequence, std::string description) {
  std::lock_guard lock(mutex_);
  in_flight_ = true;
  phase_ = false;
  sequence_ = sequence;
  description_ = std::move(description);
  started_ = std::chrono::steady_clock::now();
}

void Watchdog::begin_phase(std::string description) {
  std::lock_guard lock(mutex_);
  in_flight_ = true;
  phase_ = true;
  description_ = std::move(description);
  started_ = std::chrono::steady_clock::now();
}

void Watchdog::end() {
  std::lock_guard lock(mutex_);
  in_flight_ = false;
  if (!phase_) completed_ = sequence_ + 1;
  phase_ = false;
}

void Watchdog::set_poll(Poll poll) {
  std::lock_guard lock(mutex_);
  poll_ = std::move(poll);
}

void Watchdog::write_heartbeat() {
  if (options_.heartbeat_dir.empty()) return;
  std::uint64_t completed = 0;
  bool in_flight = false;
  {
    std::lock_guard lock(mutex_);
    completed = completed_;
    in_flight = in_flight_;
  }
  const std::string path = options_.heartbeat_dir + "/rank-" + std::to_string(rank_);
  // Per process: a second job refused the run directory writes here too
  // until it is refused, and one shared temporary name would mix the two.
  const std::string temp = path + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(temp, std::ios::trunc);
    out << completed << ' ' << (in_flight ? 1 : 0) << ' ' << unix_ms() << '\n';
  }
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
}

std::string Watchdog::describe_peers() const {
  if (options_.heartbeat_dir.empty()) return "no heartbeat directory, peers unknown";
  std::string out;
  const std::int64_t now = unix_ms();
  std::uint64_t mine = 0;
  {
    std::lock_guard lock(mutex_);
    mine = sequence_;
  }
  for (int r = 0; r < world_size_; ++r) {
    if (r == rank_) continue;
    std::ifstream in(options_.heartbeat_dir + "/rank-" + std::to_string(r));
    std::uint64_t completed = 0;
    int in_flight = 0;
    std::int64_t when = 0;
    if (!(in >> completed >> in_flight >> when)) {
      out += fmt::format("; rank {}: no heartbeat (another node, or never started)", r);
      continue;
    }
    const double age = static_cast<double>(now - when) / 1000.0;
    if (age > 3.0) {
      out += fmt::format("; rank {} has not responded for {:.0f} s (stopped, hung or dead) after {} collectives", r,
                         age, completed);
    } else if (completed < mine) {
      out += fmt::format("; rank {} is alive but behind: it completed {} collectives, this rank waits in #{}", r,
                         completed, mine);
    } else if (completed > mine) {
      out += fmt::format("; rank {} is ahead: it completed {} collectives (a rank skipped or added a collective)", r,
                         completed);
    }
  }
  return out.empty() ? "every peer's heartbeat is fresh" : out.substr(2);
}

void Watchdog::run() {
  auto next_heartbeat = std::chrono::steady_clock::now();
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
      if (waited > options_.timeout_seconds) {
        const std::string what = phase_ ? description_ : fmt::format("collective #{} {}", sequence_, description_);
        failure = fmt::format("rank {}: {} did not complete within {:.0f} s (watchdog timeout)", rank_, what,
                              options_.timeout_seconds);
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
    if (now >= next_heartbeat) {
      lock.unlock();
      write_heartbeat();
      lock.lock();
      next_heartbeat = now + std::chrono::seconds(1);
    }
  }
}

}  // namespace recforge
