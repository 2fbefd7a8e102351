// An open file descriptor that closes itself (internal to framework/src/io).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <utility>

namespace recforge::io {

class Fd {
 public:
  // open(2) with O_CLOEXEC; get() < 0 when it failed (errno says why).
  Fd(const std::string& path, int flags, mode_t mode = 0644) : fd_(::open(path.c_str(), flags | O_CLOEXEC, mode)) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Closes now and reports the error a deferred write may only show here.
  bool close() {
    const int r = ::close(fd_);
    fd_ = -1;
    return r == 0;
  }
  // Hands the descriptor over to a new owner.
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

}  // namespace recforge::io
