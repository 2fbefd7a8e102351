// Durable writes: temp + fsync + rename + directory fsync (see durable_file.hpp).
#include "recforge/io/durable_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "fd.hpp"
#include "recforge/core/error.hpp"

namespace recforge::io {
namespace {

[[noreturn]] void fail_errno(const std::string& what, const std::string& path) {
  const int code = errno;
  RF_THROW(ErrorKind::kIo, what, " ", path, ": ", std::strerror(code));
}

std::string parent_of(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? "." : parent.string();
}

}  // namespace

void fsync_path(const std::string& path) {
  Fd fd(path, O_RDONLY);
  if (fd.get() < 0) fail_errno("cannot open", path);
  if (::fsync(fd.get()) != 0) fail_errno("fsync failed for", path);
}

void rename_path(const std::string& from, const std::string& to) {
  if (std::rename(from.c_str(), to.c_str()) != 0) fail_errno("cannot rename " + from + " to", to);
}

void rename_durably(const std::string& from, const std::string& to) {
  rename_path(from, to);
  fsync_path(parent_of(to));
}

void write_file_atomically(const std::string& path, std::string_view bytes) {
  const std::string temp = path + ".tmp-" + std::to_string(::getpid());
  try {
    Fd fd(temp, O_WRONLY | O_CREAT | O_TRUNC);
    if (fd.get() < 0) fail_errno("cannot create", temp);
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail_errno("cannot write", temp);
      done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd.get()) != 0) fail_errno("fsync failed for", temp);
    if (!fd.close()) fail_errno("cannot close", temp);
    rename_durably(temp, path);
  } catch (...) {
    std::remove(temp.c_str());
    throw;
  }
}

std::vector<std::uint8_t> read_file_bytes(const std::string& path, std::int64_t max_bytes) {
  Fd fd(path, O_RDONLY | O_NOFOLLOW);
  if (fd.get() < 0) fail_errno("cannot open", path);
  const off_t size = ::lseek(fd.get(), 0, SEEK_END);
  if (size < 0 || ::lseek(fd.get(), 0, SEEK_SET) != 0) fail_errno("cannot seek in", path);
  RF_CHECK_KIND(ErrorKind::kIo, size <= max_bytes, path, " is ", size, " bytes, above the limit of ", max_bytes);
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_errno("cannot read", path);
    if (n == 0) break;  // shrank while reading
    done += static_cast<std::size_t>(n);
  }
  RF_CHECK_KIND(ErrorKind::kIo, done == bytes.size(), path, " changed size while being read");
  return bytes;
}

}  // namespace recforge::io
