// Crash-safe publishing on POSIX file systems: write to a temporary name, fsync
// the file, rename it over the final name, fsync the directory. The rename is
// the only commit point, so a crash at any moment leaves either the old or the
// new content under the final name, never a mixture (RELIABILITY.md rule 1).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace recforge::io {

// fsync of a file or directory; throws kIo with the path and errno text.
void fsync_path(const std::string& path);
// Writes `bytes` to `path` + ".tmp-<pid>", fsyncs, renames onto `path` and fsyncs
// the directory. Errors (ENOSPC, EFBIG, EACCES, ...) leave `path` untouched.
void write_file_atomically(const std::string& path, std::string_view bytes);
// rename(2); throws kIo with both paths and errno text. Not yet durable: the
// target's directory still needs an fsync.
void rename_path(const std::string& from, const std::string& to);
// Renames and makes the rename durable (fsync of the target's directory).
void rename_durably(const std::string& from, const std::string& to);
// The whole file, refusing files above `max_bytes` (checked before reading).
std::vector<std::uint8_t> read_file_bytes(const std::string& path, std::int64_t max_bytes);

}  // namespace recforge::io
