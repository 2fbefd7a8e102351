// Watchdog: a collective past its deadline triggers the handler with a message
// naming the rank, the collective and what the peers' heartbeats say.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <thread>

#include "recforge/comm/communicator.hpp"
#include "recforge/comm/watchdog.hpp"
#include "testing/temp_dir.hpp"

namespace recforge {
namespace {

using namespace std::chrono_literals;

struct Recorder {
  std::mutex mutex;
  std::vector<std::string> messages;
  Watchdog::TimeoutHandler handler() {
    return [this](const std::string& m) {
      std::lock_guard lock(mutex);
      messages.push_back(m);
    };
  }
  std::size_t count() {
    std::lock_guard lock(mutex);
    return messages.size();
  }
};

TEST(Watchdog, FiresOnAStuckCollectiveAndNamesIt) {
  testing::TempDir dir;
  // A peer whose heartbeat is 10 s old.
  std::ofstream(dir.file("rank-1")) << "4 1 " << (std::chrono::duration_cast<std::chrono::milliseconds>(
                                                        std::chrono::system_clock::now().time_since_epoch())
                                                        .count() -
                                                    10000)
                                    << "\n";
  Recorder recorder;
  Watchdog watchdog({.timeout_seconds = 0.3, .heartbeat_dir = dir.path().string(), .poll_seconds = 0.02}, 0, 2,
                    recorder.handler());
  watchdog.begin(7, "allreduce(f32 [1000], sum)");
  for (int i = 0; i < 100 && recorder.count() == 0; ++i) std::this_thread::sleep_for(20ms);
  ASSERT_EQ(recorder.count(), 1u);
  const std::string& m = recorder.messages[0];
  EXPECT_NE(m.find("rank 0: collective #7 allreduce(f32 [1000], sum) did not complete within 0 s"), std::string::npos) << m;
  EXPECT_NE(m.find("rank 1 has not responded for 10 s"), std::string::npos) << m;
}

TEST(Watchdog, QuietWhenCollectivesFinishInTime) {
  Recorder recorder;
  Watchdog watchdog({.timeout_seconds = 0.5, .poll_seconds = 0.01}, 0, 1, recorder.handler());
  for (int i = 0; i < 20; ++i) {
    watchdog.begin(static_cast<std::uint64_t>(i), "barrier");
    std::this_thread::sleep_for(5ms);
    watchdog.end();
  }
  std::this_thread::sleep_for(600ms);  // idle time between collectives never counts
  EXPECT_EQ(recorder.count(), 0u);
}

// A rank's heartbeat file: (completed collectives, a collective in flight).
std::pair<std::uint64_t, int> heartbeat(const testing::TempDir& dir, int rank) {
  std::ifstream in(dir.file("rank-" + std::to_string(rank)));
  std::uint64_t completed = 99;
  int in_flight = 1;
  in >> completed >> in_flight;
  return {completed, in_flight};
}

TEST(Watchdog, WritesHeartbeatsAndReportsLaggingPeers) {
  testing::TempDir dir;
  Recorder recorder;
  {
    Watchdog watchdog({.timeout_seconds = 60, .heartbeat_dir = dir.path().string(), .poll_seconds = 0.01}, 1, 2,
                      recorder.handler());
    watchdog.begin(2, "barrier");
    watchdog.end();
    // Written once a second: polled (a loaded machine may have written the
    // first one before end(), and the next comes up to a second later).
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (heartbeat(dir, 1) != std::pair<std::uint64_t, int>{3, 0} && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(heartbeat(dir, 1), (std::pair<std::uint64_t, int>{3, 0}));
  // Rank 0 waiting in #9 sees rank 1 fresh but behind.
  Watchdog observer({.timeout_seconds = 60, .heartbeat_dir = dir.path().string(), .poll_seconds = 10}, 0, 2,
                    recorder.handler());
  observer.begin(9, "allreduce");
  EXPECT_NE(observer.describe_peers().find("rank 1 is alive but behind: it completed 3 collectives"), std::string::npos)
      << observer.describe_peers();
}

// The communicator's set-up (NCCL's unique-id exchange and init) is watched
// as a phase: a stuck set-up is named as such, and a finished one leaves the
// collective count alone (peers compare counts to find the rank behind).
TEST(Watchdog, WatchesAPhaseWithoutCountingIt) {
  testing::TempDir dir;
  Recorder recorder;
  {
    // Before any collective, as the set-up runs: counted, it would read 1.
    Watchdog watchdog({.timeout_seconds = 60, .heartbeat_dir = dir.path().string(), .poll_seconds = 0.01}, 0, 1,
                      recorder.handler());
    watchdog.begin_phase("communicator set-up");
    watchdog.end();
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_EQ(heartbeat(dir, 0), (std::pair<std::uint64_t, int>{0, 0}));
  EXPECT_EQ(recorder.count(), 0u);

  Watchdog stuck({.timeout_seconds = 0.2, .poll_seconds = 0.01}, 1, 2, recorder.handler());
  stuck.begin_phase("communicator set-up (comm.backend nccl)");
  for (int i = 0; i < 100 && recorder.count() == 0; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(recorder.count(), 1u);
  EXPECT_NE(recorder.messages[0].find("rank 1: communicator set-up (comm.backend nccl) did not complete within 0 s"),
            std::string::npos)
      << recorder.messages[0];
}

// The run directory on a file system that stops answering (here: FIFOs,
// whose open blocks until the other end opens, as a hung NFS open would)
// stops the heartbeats, not the deadline.
TEST(Watchdog, AStalledHeartbeatDirectoryDoesNotStopTheDeadline) {
  ::signal(SIGPIPE, SIG_IGN);  // the freed writer may write after the read end is closed
  testing::TempDir dir;
  const std::string peer = dir.file("rank-1"), own = dir.file("rank-0.tmp-" + std::to_string(::getpid()));
  ASSERT_EQ(::mkfifo(peer.c_str(), 0600), 0);
  ASSERT_EQ(::mkfifo(own.c_str(), 0600), 0);
  Recorder recorder;
  {
    Watchdog watchdog({.timeout_seconds = 0.3, .heartbeat_dir = dir.path().string(), .poll_seconds = 0.02}, 0, 2,
                      recorder.handler());
    watchdog.begin(5, "allreduce(f32 [8], sum)");
    for (int i = 0; i < 250 && recorder.count() == 0; ++i) std::this_thread::sleep_for(20ms);
    ASSERT_EQ(recorder.count(), 1u);
    EXPECT_NE(recorder.messages[0].find("rank 0: collective #5 allreduce(f32 [8], sum) did not complete within 0 s (watchdog "
                                        "timeout); the heartbeat files in " + dir.path().string() +
                                        " could not be read within 2 s (a stalled file system?)"),
              std::string::npos)
        << recorder.messages[0];
  }  // (the writer, still stuck, is left behind: the destructor returned)
  // Let the blocked reader and writer go: open the other ends.
  const int reader_end = ::open(peer.c_str(), O_WRONLY | O_NONBLOCK);
  const int writer_end = ::open(own.c_str(), O_RDONLY | O_NONBLOCK);
  EXPECT_GE(reader_end, 0);
  EXPECT_GE(writer_end, 0);
  std::this_thread::sleep_for(100ms);
  ::close(reader_end);
  ::close(writer_end);
}

// Collectives begun inside an IoWait (ranks waiting on rank 0's checkpoint
// write) get comm.io_timeout, and a timeout says so; outside, the watchdog's.
TEST(Watchdog, AnIoWaitGetsItsOwnDeadline) {
  Recorder recorder;
  Watchdog watchdog({.timeout_seconds = 0.2, .io_timeout_seconds = 0.8, .poll_seconds = 0.01}, 1, 2,
                    recorder.handler());
  {
    const Watchdog::IoWait io(&watchdog, "rank 0 writes checkpoint step 40");
    watchdog.begin(3, "allgather_string");
  }  // (the deadline is the collective's, from its begin)
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(recorder.count(), 0u);  // past the watchdog timeout, within the I/O one
  for (int i = 0; i < 200 && recorder.count() == 0; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(recorder.count(), 1u);
  EXPECT_NE(recorder.messages[0].find("rank 1: collective #3 allgather_string did not complete within 1 s "
                                      "(comm.io_timeout: rank 0 writes checkpoint step 40)"),
            std::string::npos)
      << recorder.messages[0];
  // The next collective, outside any IoWait, has the watchdog's deadline again.
  Watchdog plain({.timeout_seconds = 0.2, .io_timeout_seconds = 60, .poll_seconds = 0.01}, 1, 2, recorder.handler());
  { const Watchdog::IoWait io(&plain, "rank 0 prepares the data"); }
  plain.begin(4, "barrier");
  for (int i = 0; i < 100 && recorder.count() == 1; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(recorder.count(), 2u);
  EXPECT_NE(recorder.messages[1].find("did not complete within 0 s (watchdog timeout)"), std::string::npos)
      << recorder.messages[1];
  // A watchdog timeout longer than the I/O one sets the deadline, and is named.
  Watchdog patient({.timeout_seconds = 0.3, .io_timeout_seconds = 0.05, .poll_seconds = 0.01}, 1, 2,
                   recorder.handler());
  {
    const Watchdog::IoWait io(&patient, "rank 0 writes checkpoint step 80");
    patient.begin(5, "allgather_string");
  }
  std::this_thread::sleep_for(150ms);
  EXPECT_EQ(recorder.count(), 2u);
  for (int i = 0; i < 100 && recorder.count() == 2; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(recorder.count(), 3u);
  EXPECT_NE(recorder.messages[2].find("did not complete within 0 s (watchdog timeout, while rank 0 writes checkpoint "
                                      "step 80)"),
            std::string::npos)
      << recorder.messages[2];
  const Watchdog::IoWait no_watchdog(nullptr, "a communicator without one");  // allowed
}

TEST(Watchdog, PollFailureTriggersTheHandler) {
  Recorder recorder;
  Watchdog watchdog({.timeout_seconds = 60, .poll_seconds = 0.01}, 0, 1, recorder.handler());
  std::atomic<bool> broken{false};
  watchdog.set_poll([&]() -> std::optional<std::string> {
    if (broken) return std::string("NCCL asynchronous error: remote process exited");
    return std::nullopt;
  });
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(recorder.count(), 0u);
  broken = true;
  for (int i = 0; i < 100 && recorder.count() == 0; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(recorder.count(), 1u);
  EXPECT_NE(recorder.messages[0].find("remote process exited"), std::string::npos);
}

}  // namespace
}  // namespace recforge
