// make_mpi_communicator for builds with RECFORGE_MPI=OFF.
#include "recforge/comm/runtime.hpp"
#include "recforge/core/error.hpp"

namespace recforge {
std::unique_ptr<Communicator> make_mpi_communicator() {
  RF_THROW(ErrorKind::kConfig, "this recforge was built with RECFORGE_MPI=OFF; rebuild with MPI for multi-process jobs");
}
}  // namespace recforge
