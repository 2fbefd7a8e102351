// recforge::Error and the checking macros every component uses.
//
//   RF_CHECK(cond, msg...)   the caller's mistake (bad input, wrong shape): throws Error
//   RF_ASSERT(cond)          a recforge bug ("please report"): throws Error of kind Internal
//   RF_LIB_CHECK(expr)       a library return code (MPI, HDF5, ...) turned into an Error
//   RF_CHECK_AGREED(kind, cond, msg...)
//                            a check every rank makes on the same reduced or
//                            gathered value: throws AgreedError on every rank
//
// Messages are built by streaming every argument, so
//   RF_CHECK(x.ndim() == 2, "expected a 2-d tensor, got ", x.ndim(), " dims");
// reads like the message it produces. Nothing here exits the process; the
// CLI maps error kinds to exit codes (see framework/README.md, "Exit codes").
// CUDA/NCCL checks live in cuda_check.cuh so no CUDA header is reachable from here.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace recforge {

enum class ErrorKind {
  kInvalidArgument,  // caller passed something wrong (shape, dtype, device, value)
  kConfig,           // configuration file or option (exit code 2)
  kData,             // input data file (malformed line, missing file)
  kIo,               // filesystem or network
  kNotFound,         // unknown name (model, kernel, file)
  kCuda,
  kNccl,
  kMpi,
  kHdf5,
  kBlas,
  kCommunication,    // collective failed, timed out, or ranks disagree
  kNumerical,        // NaN/Inf detected
  kInternal,         // a recforge bug
};

std::string_view error_kind_name(ErrorKind kind);

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string message, const char* file, int line);

  ErrorKind kind() const noexcept { return kind_; }
  // The message without the "file:line" suffix.
  const std::string& message() const noexcept { return message_; }
  const char* file() const noexcept { return file_; }
  int line() const noexcept { return line_; }

 private:
  ErrorKind kind_;
  std::string message_;
  const char* file_;
  int line_;
};

// An error every rank of a job raises at the same point, because it follows
// from a value they all reduced or gathered (a non-finite count, a parameter
// fingerprint, a checkpoint status). The job can then end in order: every rank
// reports, then all exit together, and no rank's report is lost to the first
// rank's MPI_Abort (see DistributedRuntime::stop_together).
class AgreedError : public Error {
 public:
  using Error::Error;
};

namespace detail {

template <class... Args>
std::string concat(const Args&... args) {
  if constexpr (sizeof...(Args) == 0) {
    return {};
  } else {
    std::ostringstream out;
    (out << ... << args);
    return out.str();
  }
}

[[noreturn]] void throw_error(ErrorKind kind, std::string message, const char* file, int line);
[[noreturn]] void throw_agreed_error(ErrorKind kind, std::string message, const char* file, int line);

// "framework/src/x.cpp:12": __FILE__ shortened to the path inside the project.
std::string source_location(const char* file, int line);

}  // namespace detail
}  // namespace recforge

#define RF_THROW(kind, ...) \
  ::recforge::detail::throw_error((kind), ::recforge::detail::concat(__VA_ARGS__), __FILE__, __LINE__)

#define RF_CHECK(cond, ...)                                                                 \
  do {                                                                                      \
    if (!(cond)) [[unlikely]] {                                                             \
      RF_THROW(::recforge::ErrorKind::kInvalidArgument, __VA_ARGS__);                       \
    }                                                                                       \
  } while (0)

#define RF_CHECK_KIND(kind, cond, ...)           \
  do {                                           \
    if (!(cond)) [[unlikely]] {                  \
      RF_THROW(kind, __VA_ARGS__);               \
    }                                            \
  } while (0)

#define RF_THROW_AGREED(kind, ...) \
  ::recforge::detail::throw_agreed_error((kind), ::recforge::detail::concat(__VA_ARGS__), __FILE__, __LINE__)

#define RF_CHECK_AGREED(kind, cond, ...)         \
  do {                                           \
    if (!(cond)) [[unlikely]] {                  \
      RF_THROW_AGREED(kind, __VA_ARGS__);        \
    }                                            \
  } while (0)

#define RF_ASSERT(cond)                                                                       \
  do {                                                                                        \
    if (!(cond)) [[unlikely]] {                                                               \
      RF_THROW(::recforge::ErrorKind::kInternal, "internal assertion failed: " #cond          \
               " (this is a recforge bug; please report it)");                                \
    }                                                                                         \
  } while (0)

// RF_LIB_CHECK(expr): evaluates a library call and throws if it failed. The
// library is chosen by overloading ::recforge::detail::lib_status on the
// return type (see mpi_check.hpp, hdf5_check.hpp, cuda_check.cuh).
#define RF_LIB_CHECK(expr)                                                         \
  do {                                                                             \
    auto rf_status_ = (expr);                                                      \
    if (!::recforge::detail::lib_ok(rf_status_)) [[unlikely]] {                    \
      ::recforge::detail::lib_throw(rf_status_, #expr, __FILE__, __LINE__);        \
    }                                                                              \
  } while (0)
