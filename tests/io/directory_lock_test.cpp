// DirectoryLock: one holder at a time, the refusal names the holder, and the
// lock goes with its holder, even one killed with SIGKILL (nothing stale).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "recforge/io/directory_lock.hpp"
#include "testing/error_testing.hpp"
#include "testing/temp_dir.hpp"

namespace recforge::io {
namespace {

TEST(DirectoryLock, OneHolderAtATimeAndTheRefusalNamesIt) {
  testing::TempDir dir;
  std::string holder;
  auto first = DirectoryLock::try_acquire(dir.path().string(), holder);
  ASSERT_TRUE(first.has_value());
  EXPECT_TRUE(holder.empty());
  // Another open of the lock file conflicts, even within this process.
  EXPECT_FALSE(DirectoryLock::try_acquire(dir.path().string(), holder).has_value());
  EXPECT_NE(holder.find("pid " + std::to_string(::getpid()) + " on "), std::string::npos) << holder;
  EXPECT_NE(holder.find(" since 20"), std::string::npos) << holder;
  first.reset();
  holder.clear();
  EXPECT_TRUE(DirectoryLock::try_acquire(dir.path().string(), holder).has_value());
  EXPECT_TRUE(holder.empty());
}

TEST(DirectoryLock, AKilledHolderLeavesNoStaleLock) {
  testing::TempDir dir;
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  // A failed assertion below returns early: the paused child must not outlive
  // the test (it would hold ctest's output pipe open until the timeout).
  struct KillChild {
    pid_t pid;
    ~KillChild() {
      if (pid > 0 && ::kill(pid, SIGKILL) == 0) ::waitpid(pid, nullptr, 0);
    }
  } guard{child};
  if (child == 0) {
    std::string ignored;
    auto lock = DirectoryLock::try_acquire(dir.path().string(), ignored);
    const char ok = lock ? '1' : '0';
    if (::write(ready[1], &ok, 1) != 1) ::_exit(1);
    ::pause();  // until SIGKILL
    ::_exit(0);
  }
  char ok = 0;
  ASSERT_EQ(::read(ready[0], &ok, 1), 1);
  ASSERT_EQ(ok, '1');
  std::string holder;
  EXPECT_FALSE(DirectoryLock::try_acquire(dir.path().string(), holder).has_value());
  EXPECT_NE(holder.find("pid " + std::to_string(child) + " on "), std::string::npos) << holder;
  ::kill(child, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  guard.pid = 0;
  ::close(ready[0]);
  ::close(ready[1]);
  holder.clear();
  EXPECT_TRUE(DirectoryLock::try_acquire(dir.path().string(), holder).has_value()) << holder;
}

TEST(DirectoryLock, AMissingDirectoryIsAnIoErrorNamingTheFile) {
  testing::TempDir dir;
  std::string holder;
  RF_EXPECT_ERROR(DirectoryLock::try_acquire(dir.file("absent"), holder), ErrorKind::kIo,
                  "cannot open the lock file " + dir.file("absent") + "/.lock: No such file or directory");
}

}  // namespace
}  // namespace recforge::io
