// Error kind -> exit code.
#include "exit_codes.hpp"

namespace recforge::cli {

int exit_code_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kConfig:
    case ErrorKind::kNotFound:
      return kExitUsage;
    case ErrorKind::kData: return kExitData;
    case ErrorKind::kCommunication:
    case ErrorKind::kMpi:
    case ErrorKind::kNccl:
      return kExitCommunication;
    case ErrorKind::kNumerical: return kExitNumerical;
    default: return kExitFailure;
  }
}

}  // namespace recforge::cli
