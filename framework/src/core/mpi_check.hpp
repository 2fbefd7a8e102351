// RF_MPI_CHECK(expr): an MPI return code turned into recforge::Error with the
// MPI error string. Private: only the MPI communicator includes <mpi.h>.
#pragma once

#include <mpi.h>

#include <string_view>

#include "recforge/core/error.hpp"

namespace recforge::detail {

struct MpiStatus {
  int code;
};
inline bool lib_ok(MpiStatus status) { return status.code == MPI_SUCCESS; }
// Names the call by its function ("MPI_Allgather failed: MPI_ERR_TRUNCATE: ..."):
// its arguments, as written, say nothing to a user.
[[noreturn]] inline void lib_throw(MpiStatus status, const char* expr, const char* file, int line) {
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  MPI_Error_string(status.code, text, &length);
  const std::string_view call(expr);
  throw_error(ErrorKind::kMpi, concat(call.substr(0, call.find('(')), " failed: ", text), file, line);
}

}  // namespace recforge::detail

// Not through RF_LIB_CHECK: its #expr would be this macro's expansion.
#define RF_MPI_CHECK(expr)                                                                            \
  do {                                                                                                \
    const ::recforge::detail::MpiStatus rf_mpi_status_{(expr)};                                      \
    if (!::recforge::detail::lib_ok(rf_mpi_status_)) [[unlikely]] {                                   \
      ::recforge::detail::lib_throw(rf_mpi_status_, #expr, __FILE__, __LINE__);                      \
    }                                                                                                 \
  } while (0)
