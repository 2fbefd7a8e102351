// Heartbeat files: a writer thread and deadline-bounded reads (heartbeats.hpp).
#include "comm/heartbeats.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>

namespace recforge {

struct Heartbeats::State {
  // (A constructor: clang before 16, the sanitizer build's, has no C++20
  // parenthesized aggregate initialisation for make_shared.)
  State(std::string heartbeat_dir, int this_rank, int ranks)
      : dir(std::move(heartbeat_dir)), rank(this_rank), world_size(ranks) {}
  const std::string dir;
  const int rank, world_size;
  std::atomic<std::uint64_t> completed{0};
  std::atomic<bool> in_flight{false};
  std::mutex mutex;
  std::condition_variable changed;
  bool stop = false, writer_done = false;
};

namespace {

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void write_once(const Heartbeats::State& s) {
  const std::string path = s.dir + "/rank-" + std::to_string(s.rank);
  // Per process: a second job refused the run directory writes here too
  // until it is refused, and one shared temporary name would mix the two.
  const std::string temp = path + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(temp, std::ios::trunc);
    out << s.completed.load() << ' ' << (s.in_flight.load() ? 1 : 0) << ' ' << unix_ms() << '\n';
  }
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
}

void write_every_second(const std::shared_ptr<Heartbeats::State>& s) {
  std::error_code ec;
  std::filesystem::create_directories(s->dir, ec);
  std::unique_lock lock(s->mutex);
  while (true) {
    const bool last = s->stop;  // the final write leaves the last state behind
    lock.unlock();
    write_once(*s);
    lock.lock();
    if (last) break;
    s->changed.wait_for(lock, std::chrono::seconds(1), [&] { return s->stop; });
  }
  s->writer_done = true;
  s->changed.notify_all();
}

std::string read_peers(const Heartbeats::State& s, std::uint64_t mine) {
  std::string out;
  const std::int64_t now = unix_ms();
  for (int r = 0; r < s.world_size; ++r) {
    if (r == s.rank) continue;
    std::ifstream in(s.dir + "/rank-" + std::to_string(r));
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

}  // namespace

Heartbeats::Heartbeats(std::string dir, int rank, int world_size)
    : state_(std::make_shared<State>(std::move(dir), rank, world_size)) {
  std::thread([s = state_] { write_every_second(s); }).detach();
}

Heartbeats::~Heartbeats() {
  std::unique_lock lock(state_->mutex);
  state_->stop = true;
  state_->changed.notify_all();
  // A writer stuck in the file system keeps its own reference to the state.
  state_->changed.wait_for(lock, std::chrono::seconds(1), [&] { return state_->writer_done; });
}

void Heartbeats::set(std::uint64_t completed, bool in_flight) {
  state_->completed.store(completed);
  state_->in_flight.store(in_flight);
}

std::string Heartbeats::describe_peers(std::uint64_t waiting_in, std::chrono::milliseconds wait) const {
  auto result = std::make_shared<std::promise<std::string>>();
  std::future<std::string> answer = result->get_future();
  std::thread([s = state_, waiting_in, result] { result->set_value(read_peers(*s, waiting_in)); }).detach();
  if (answer.wait_for(wait) == std::future_status::ready) return answer.get();
  return fmt::format("the heartbeat files in {} could not be read within {:.0f} s (a stalled file system?)",
                     state_->dir, std::chrono::duration<double>(wait).count());
}

}  // namespace recforge
