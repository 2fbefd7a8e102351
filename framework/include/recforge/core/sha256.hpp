// SHA-256 (OpenSSL) for dataset fingerprints and checkpoint manifests.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace recforge {

using Sha256Digest = std::array<std::uint8_t, 32>;

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  Sha256& update(const void* data, std::size_t bytes);
  Sha256& update(std::string_view text) { return update(text.data(), text.size()); }
  Sha256Digest finish();

  static Sha256Digest of(const void* data, std::size_t bytes);
  static std::string hex(const Sha256Digest& digest);

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

// SHA-256 of a whole file, read in blocks (throws kIo naming the path on error).
Sha256Digest sha256_file(const std::string& path);

}  // namespace recforge
