// Entry points shared by the reader files (private to framework/src/data).
#pragma once

#include <string>
#include <string_view>

#include "recforge/data/reader.hpp"

namespace recforge::data {

RawInteractions read_delimited(const std::string& path, Format format, const ReadOptions& options);
RawInteractions read_adjacency(const std::string& path, const ReadOptions& options);

// Content digest of a file's bytes: SHA-256 over the SHA-256s of fixed 64 MiB
// blocks, hashed in parallel; the value does not depend on the thread count.
std::string block_tree_sha256_of(std::string_view bytes);

}  // namespace recforge::data
