// RF_MPI_CHECK(expr): an MPI return code turned into recforge::Error with the
// MPI error string. Private: only the MPI communicator includes <mpi.h>.
#pragma once

#include <mpi.h>

#include "recforge/core/error.hpp"

namespace recforge::detail {

struct MpiStatus {
  int code;
};
inline bool lib_ok(MpiStatus status) { return status.code == MPI_SUCCESS; }
[[noreturn]] inline void lib_throw(MpiStatus status, const char* expr, const char* file, int line) {
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  MPI_Error_string(status.code, text, &length);
  throw_error(ErrorKind::kMpi, concat(expr, " failed: ", text), file, line);
}

}  // namespace recforge::detail

#define RF_MPI_CHECK(expr) RF_LIB_CHECK((::recforge::detail::MpiStatus{(expr)}))
