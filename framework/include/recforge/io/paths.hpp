// Path checks shared by the commands that take a directory from the user.
#pragma once

#include <filesystem>
#include <system_error>

namespace recforge::io {

// True when `path` does not exist yet or is a directory: where a directory is
// to be created or read, a regular file of that name is the user's mistake.
inline bool absent_or_directory(const std::filesystem::path& path) {
  std::error_code ec;
  const auto type = std::filesystem::status(path, ec).type();
  return type == std::filesystem::file_type::not_found || type == std::filesystem::file_type::directory;
}

}  // namespace recforge::io
