// recforge::Error construction and the kind names used in messages.
#include "recforge/core/error.hpp"

namespace recforge {

std::string_view error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidArgument: return "invalid argument";
    case ErrorKind::kConfig: return "config error";
    case ErrorKind::kData: return "data error";
    case ErrorKind::kIo: return "I/O error";
    case ErrorKind::kNotFound: return "not found";
    case ErrorKind::kCuda: return "CUDA error";
    case ErrorKind::kNccl: return "NCCL error";
    case ErrorKind::kMpi: return "MPI error";
    case ErrorKind::kHdf5: return "HDF5 error";
    case ErrorKind::kBlas: return "BLAS error";
    case ErrorKind::kCommunication: return "communication error";
    case ErrorKind::kNumerical: return "numerical error";
    case ErrorKind::kInternal: return "internal error";
  }
  return "error";
}

namespace {
// Keep messages readable: show the path from the project root, not the build machine's.
const char* short_path(const char* file) {
  const std::string_view path(file);
  for (std::string_view root : {"/framework/", "/kernels/", "/plugins/", "/tests/", "/benchmarks/"}) {
    if (auto at = path.rfind(root); at != std::string_view::npos) return file + at + 1;
  }
  return file;
}
}  // namespace

Error::Error(ErrorKind kind, std::string message, const char* file, int line)
    : std::runtime_error(message + " [" + short_path(file) + ":" + std::to_string(line) + "]"),
      kind_(kind),
      message_(std::move(message)),
      file_(short_path(file)),
      line_(line) {}

namespace detail {
void throw_error(ErrorKind kind, std::string message, const char* file, int line) {
  throw Error(kind, std::move(message), file, line);
}

void throw_agreed_error(ErrorKind kind, std::string message, const char* file, int line) {
  throw AgreedError(kind, std::move(message), file, line);
}

std::string source_location(const char* file, int line) {
  return std::string(short_path(file)) + ":" + std::to_string(line);
}
}  // namespace detail
}  // namespace recforge
