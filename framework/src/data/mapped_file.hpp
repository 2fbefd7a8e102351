// A read-only memory map of a whole file (private to the data readers).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace recforge::data {

class MappedFile {
 public:
  // Throws kData naming the path when it is missing, a directory, unreadable or empty.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::string_view bytes() const { return {data_, size_}; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const char* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace recforge::data
