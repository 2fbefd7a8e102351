// Heartbeat files of a job's ranks: this rank's, "<completed collectives>
// <in flight 0/1> <unix ms>" in rank-<r>, written once a second by a thread of
// its own; the peers', read with a deadline. The run directory may sit on a
// network file system that stops answering, and the watchdog must fire all
// the same: no file operation runs on its thread, and one that hangs is left
// behind (its thread detached, holding only shared state), not waited for.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace recforge {

class Heartbeats {
 public:
  // Starts the writer, whose first write comes at once (a rank stuck before
  // any collective is named too).
  Heartbeats(std::string dir, int rank, int world_size);
  // Stops the writer; waits for it up to a second, then leaves it behind.
  ~Heartbeats();
  Heartbeats(const Heartbeats&) = delete;
  Heartbeats& operator=(const Heartbeats&) = delete;

  // What the next write says.
  void set(std::uint64_t completed, bool in_flight);
  // What the peers' files say to a rank waiting in collective #waiting_in, or
  // that they could not be read within `wait`.
  std::string describe_peers(std::uint64_t waiting_in, std::chrono::milliseconds wait) const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace recforge
