// An advisory lock on a directory that one process holds while it writes
// there: two jobs given the same run directory (a sweep without distinct run
// names, a restart while the old job still lingers) would otherwise interleave
// their checkpoints, metrics and heartbeats. The lock is an open file
// description lock (fcntl F_OFD_SETLK) on <dir>/.lock: the kernel drops it
// when the holder exits, however it exits, so a crashed process leaves nothing
// stale to clean up. Across the nodes of an NFS mount it needs the server's
// locks (NFSv4, or v3 with lockd), and a crashed *node* holds it until its
// lease ends (about 90 s on NFSv4). On a file system without locks the holder
// gets a warning and an unguarded lock rather than an error.
#pragma once

#include <optional>
#include <string>

namespace recforge::io {

class DirectoryLock {
 public:
  // Takes the lock on `dir` (which must exist) without waiting. When another
  // process holds it, returns nullopt and sets `holder` to what that process
  // wrote there ("pid 123 on node7 since 2026-12-07T13:40:00Z"). `file_name`:
  // the lock file in `dir` (a run directory's .lock also marks it as one for
  // checkpoint_dir_of; a checkpoint directory elsewhere takes another name).
  static std::optional<DirectoryLock> try_acquire(const std::string& dir, std::string& holder,
                                                  const std::string& file_name = ".lock");

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
