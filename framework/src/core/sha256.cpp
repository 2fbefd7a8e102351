// SHA-256 through OpenSSL's EVP interface.
#include "recforge/core/sha256.hpp"

#include <openssl/evp.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "recforge/core/error.hpp"

namespace recforge {

struct Sha256::Context {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Context() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : context_(std::make_unique<Context>()) {
  RF_CHECK_KIND(ErrorKind::kInternal, context_->ctx && EVP_DigestInit_ex(context_->ctx, EVP_sha256(), nullptr) == 1,
                "OpenSSL SHA-256 initialisation failed");
}
Sha256::~Sha256() = default;

Sha256& Sha256::update(const void* data, std::size_t bytes) {
  RF_CHECK_KIND(ErrorKind::kInternal, EVP_DigestUpdate(context_->ctx, data, bytes) == 1, "SHA-256 update failed");
  return *this;
}

Sha256Digest Sha256::finish() {
  Sha256Digest digest{};
  unsigned int length = 0;
  RF_CHECK_KIND(ErrorKind::kInternal, EVP_DigestFinal_ex(context_->ctx, digest.data(), &length) == 1 && length == 32,
                "SHA-256 finish failed");
  return digest;
}

Sha256Digest Sha256::of(const void* data, std::size_t bytes) { return Sha256().update(data, bytes).finish(); }

std::string Sha256::hex(const Sha256Digest& digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (std::uint8_t byte : digest) {
    out += kHex[byte >> 4];
    out += kHex[byte & 15];
  }
  return out;
}

Sha256Digest sha256_file(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  RF_CHECK_KIND(ErrorKind::kIo, file != nullptr, "cannot open '", path, "': ", std::strerror(errno));
  Sha256 hash;
  std::vector<char> buffer(1 << 20);
  std::size_t got = 0;
  while ((got = std::fread(buffer.data(), 1, buffer.size(), file)) > 0) hash.update(buffer.data(), got);
  const bool failed = std::ferror(file) != 0;
  std::fclose(file);
  RF_CHECK_KIND(ErrorKind::kIo, !failed, "error reading '", path, "'");
  return hash.finish();
}

}  // namespace recforge
