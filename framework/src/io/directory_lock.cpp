// DirectoryLock: an OFD lock on <dir>/.lock naming its holder (see directory_lock.hpp).
#include "recforge/io/directory_lock.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include <fmt/format.h>

#include "fd.hpp"
#include "recforge/core/error.hpp"
#include "recforge/log/logging.hpp"

namespace recforge::io {
namespace {

std::string describe_this_process() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "an unknown host");
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  char since[32] = {};
  std::strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return fmt::format("pid {} on {} since {}", ::getpid(), host, since);
}

std::string read_holder(int fd) {
  char text[256] = {};
  const ssize_t n = ::pread(fd, text, sizeof text - 1, 0);
  std::string holder(text, n > 0 ? static_cast<std::size_t>(n) : 0);
  while (!holder.empty() && (holder.back() == '\n' || holder.back() == '\0')) holder.pop_back();
  return holder.empty() ? std::string("a process that has not yet said who it is") : holder;
}

}  // namespace

std::optional<DirectoryLock> DirectoryLock::try_acquire(const std::string& dir, std::string& holder,
                                                      const std::string& file_name) {
  const std::string path = dir + "/" + file_name;
  Fd fd(path, O_RDWR | O_CREAT);
  if (fd.get() < 0) {
    const int code = errno;
    RF_THROW(ErrorKind::kIo, "cannot open the lock file ", path, ": ", std::strerror(code));
  }
  struct flock whole {};
  whole.l_type = F_WRLCK;
  whole.l_whence = SEEK_SET;  // l_start = l_len = 0: the whole file
  if (::fcntl(fd.get(), F_OFD_SETLK, &whole) != 0) {
    const int code = errno;
    if (code == EAGAIN || code == EACCES) {
      holder = read_holder(fd.get());
      return std::nullopt;
    }
    // A file system without locks (NFS mounted nolock, some FUSE and Lustre
    // mounts): the job runs, unguarded, rather than not at all.
    if (code == ENOLCK || code == ENOSYS || code == EOPNOTSUPP || code == EINVAL) {
      log::warn("{} cannot be locked ({}): this file system has no locks, so nothing stops a second job from "
                "writing {} at the same time", path, std::strerror(code), dir);
      return DirectoryLock(fd.release());
    }
    RF_THROW(ErrorKind::kIo, "cannot lock ", path, ": ", std::strerror(code));
  }
  // Say who holds it, for the next process that tries (on NFS another node
  // reads it: hence the fsync). The lock, not this text, is what excludes.
  const std::string me = describe_this_process() + "\n";
  if (::ftruncate(fd.get(), 0) != 0 || ::pwrite(fd.get(), me.data(), me.size(), 0) != static_cast<ssize_t>(me.size()) ||
      ::fsync(fd.get()) != 0) {
    const int code = errno;
    RF_THROW(ErrorKind::kIo, "cannot write ", path, ": ", std::strerror(code));
  }
  return DirectoryLock(fd.release());
}

DirectoryLock& DirectoryLock::operator=(DirectoryLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

DirectoryLock::~DirectoryLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the lock
}

}  // namespace recforge::io
