// An advisory lock on a directory that one process holds while it writes
// there: two jobs given the same run directory (a sweep without distinct run
// names, a restart while the old job still lingers) would otherwise interleave
// their checkpoints, metrics and heartbeats. The lock is an open file
// description lock (fcntl F_OFD_SETLK) on <dir>/.lock: the kernel drops it
// when the holder exits, however it exits, so a crash leaves nothing stale to
// clean up, and it works across the nodes of an NFS mount with locking.
#pragma once

#include <optional>
#include <string>

namespace recforge::io {

class DirectoryLock {
 public:
  // Takes the lock on `dir` (which must exist) without waiting. When another
  // process holds it, returns nullopt and sets `holder` to what that process
  // wrote there ("pid 123 on node7 since 2026-12-07T13:40:00Z").
  static std::optional<DirectoryLock> try_acquire(const std::string& dir, std::string& holder);

  DirectoryLock(DirectoryLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  DirectoryLock& operator=(DirectoryLock&& other) noexcept;
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;
  ~DirectoryLock();

 private:
  explicit DirectoryLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace recforge::io
