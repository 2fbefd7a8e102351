// Watchdog: ends a job whose collective does not complete in time.
//
// mpirun ends a job when a rank dies, but not when a rank is stuck alive (a
// stopped process, a peer that never joins a collective): the others wait
// forever. Every collective registers with the watchdog (begin/end); a thread
// checks every 100 ms and, past the timeout, calls on_timeout with a message
// naming this rank, the collective (sequence number and sizes) and what the
// peers' heartbeats say (which rank stopped responding, which one is behind).
// on_timeout aborts the job (MPI_Abort / ncclCommAbort) and does not return.
// Phases (begin_phase) are watched the same way without being counted.
//
// Heartbeats: with a heartbeat directory (the run directory), every rank writes
// "<completed collectives> <in flight 0/1> <unix ms>" to rank-<r> once a second,
// from a thread of its own: a stalled file system stops the heartbeats, never
// the deadline (framework/src/comm/heartbeats.hpp).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace recforge {

class Heartbeats;

class Watchdog {
 public:
  struct Options {
    double timeout_seconds = 300;
    // For collectives begun inside an IoWait: ranks waiting on another rank's
    // file I/O (rank 0 writing a checkpoint), which may take longer than any
    // collective should (the longer of the two applies).
    double io_timeout_seconds = 1800;
    std::string heartbeat_dir;  // empty: no heartbeats
    double poll_seconds = 0.1;
  };
  using TimeoutHandler = std::function<void(const std::string& message)>;
  // Polled every tick; returns a message when the backend reports an error (NCCL async errors).
  using Poll = std::function<std::optional<std::string>()>;

  Watchdog(Options options, int rank, int world_size, TimeoutHandler on_timeout);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // While one lives, the collectives begun get the I/O deadline and `why`
  // (e.g. "rank 0 writes checkpoint step 1200") in a timeout's message.
  // Null-safe: a communicator without a watchdog passes nullptr.
  class IoWait {
   public:
    IoWait(Watchdog* watchdog, std::string why);
    ~IoWait();
    IoWait(const IoWait&) = delete;
    IoWait& operator=(const IoWait&) = delete;

   private:
    Watchdog* watchdog_;
  };

  void begin(std::uint64_t sequence, std::string description);
  void end();
  // A watched stretch that is not a collective (the communicator's set-up:
  // NCCL's unique-id exchange and init run before any collective is numbered);
  // the collective count is left as it is. end() closes it.
  void begin_phase(std::string description);
  void set_poll(Poll poll);
  double timeout_seconds() const { return options_.timeout_seconds; }
  // What the heartbeats say about the other ranks (for messages); read within
  // two seconds or said to be unreadable.
  std::string describe_peers() const;

 private:
  void run();
  void publish_state();  // to the heartbeat writer; mutex_ held
  Options options_;
  int rank_;
  TimeoutHandler on_timeout_;
  Poll poll_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool in_flight_ = false;
  std::uint64_t sequence_ = 0, completed_ = 0;
  bool phase_ = false;  // in flight is a phase, not collective #sequence_
  std::string description_;
  std::string io_wait_;          // set by a live IoWait
  std::string deadline_reason_;  // of the collective in flight: empty, or its IoWait's
  double deadline_seconds_ = 0;  // of the collective in flight
  std::chrono::steady_clock::time_point started_;
  std::unique_ptr<Heartbeats> heartbeats_;
  std::thread thread_;
};

}  // namespace recforge
