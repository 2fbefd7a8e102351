// Process exit codes of `recforge` (documented in framework/README.md).
#pragma once

#include "recforge/core/error.hpp"

namespace recforge::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,        // runtime error (I/O, CUDA, internal)
  kExitUsage = 2,          // bad command line or config
  kExitData = 3,           // bad input data
  kExitCommunication = 4,  // a collective failed, timed out, or ranks disagreed
  kExitNumerical = 5,      // NaN/Inf detected with policy `stop`
};

int exit_code_for(ErrorKind kind);

}  // namespace recforge::cli
