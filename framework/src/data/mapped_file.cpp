// MappedFile: open + fstat + mmap(PROT_READ), with errors that name the path.
#include "mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "recforge/core/error.hpp"

namespace recforge::data {

MappedFile::MappedFile(const std::string& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  RF_CHECK_KIND(ErrorKind::kData, fd >= 0, "cannot open data file '", path, "': ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    RF_THROW(ErrorKind::kData, "data file '", path, "' is not a regular file");
  }
  size_ = static_cast<std::size_t>(st.st_size);
  if (size_ == 0) {
    ::close(fd);
    RF_THROW(ErrorKind::kData, "data file '", path, "' is empty");
  }
  void* map = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_errno = errno;
  ::close(fd);
  RF_CHECK_KIND(ErrorKind::kData, map != MAP_FAILED, "cannot map data file '", path, "': ", std::strerror(map_errno));
  ::madvise(map, size_, MADV_SEQUENTIAL | MADV_WILLNEED);
  data_ = static_cast<const char*>(map);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<char*>(data_), size_);
}

}  // namespace recforge::data
