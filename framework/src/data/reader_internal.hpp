// Entry points shared by the reader files (private to framework/src/data).
#pragma once

#include <string>
#include <string_view>

#include "recforge/data/reader.hpp"

namespace recforge::data {

// Parse bytes already in memory; `path` names them in messages.
RawInteractions parse_delimited(std::string_view bytes, const std::string& path, Format format,
                                const ReadOptions& options);
RawInteractions parse_adjacency(std::string_view bytes, const std::string& path, const ReadOptions& options);

// Bad lines a reader reports as examples (on_bad_line: skip).
inline constexpr std::size_t kMaxBadLineExamples = 5;
// After a read under on_bad_line: skip: more bad lines than max_bad_lines is
// an error listing the first ones, fewer a warning that lists them.
void check_skipped_bad_lines(const ReadReport& report, const std::string& path, const ReadOptions& options);

// Content digest of a file's bytes: SHA-256 over the SHA-256s of fixed 64 MiB
// blocks, hashed in parallel; the value does not depend on the thread count.
std::string block_tree_sha256_of(std::string_view bytes);

}  // namespace recforge::data
