// make_nccl_communicator for builds without CUDA.
#include "recforge/comm/runtime.hpp"
#include "recforge/core/error.hpp"

namespace recforge {
std::unique_ptr<Communicator> make_nccl_communicator(std::unique_ptr<Communicator>, int, double) {
  RF_THROW(ErrorKind::kConfig, "this recforge was built without CUDA, so without NCCL");
}
}  // namespace recforge
