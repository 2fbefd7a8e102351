// Every open or read of a file, or of a directory and anything in it, by any
// process, as the kernel reports it (inotify): the sentinel check of the
// RELIABILITY X3 and X4 tests ("0 opens outside the repository root").
#pragma once

#include <sys/inotify.h>
#include <unistd.h>

#include <string>

namespace recforge::testing {

class OpenWatch {
 public:
  explicit OpenWatch(const std::string& path) : fd_(inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
    if (fd_ >= 0) inotify_add_watch(fd_, path.c_str(), IN_OPEN | IN_ACCESS);
  }
  ~OpenWatch() { close(fd_); }
  OpenWatch(const OpenWatch&) = delete;
  OpenWatch& operator=(const OpenWatch&) = delete;

  // Events since the last call (0 when inotify is unavailable: callers run a
  // positive control first).
  int events() {
    alignas(inotify_event) char buffer[4096];
    int count = 0;
    for (ssize_t n; (n = read(fd_, buffer, sizeof(buffer))) > 0;) {
      for (ssize_t at = 0; at < n; ++count) {
        const auto* event = reinterpret_cast<const inotify_event*>(buffer + at);
        at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      }
    }
    return count;
  }

 private:
  int fd_;
};

}  // namespace recforge::testing
