// The single-process communicator: every collective is a local copy or nothing.
#include <cstdlib>
#include <cstring>

#include "recforge/comm/communicator.hpp"
#include "recforge/core/cuda_runtime.hpp"
#include "recforge/core/error.hpp"
#include "recforge/log/logging.hpp"

namespace recforge {
namespace {

void copy_bytes(void* dst, const void* src, std::size_t bytes, Device dst_device, Device src_device, void* stream) {
  if (bytes == 0 || dst == src) return;
  if (dst_device.is_cpu() && src_device.is_cpu()) {
    std::memmove(dst, src, bytes);
    return;
  }
  const auto kind = src_device.is_cpu() ? cuda::CopyKind::kHostToDevice
                    : dst_device.is_cpu() ? cuda::CopyKind::kDeviceToHost
                                          : cuda::CopyKind::kDeviceToDevice;
  cuda::memcpy_async(dst, src, bytes, kind, stream);
}

class SingleCommunicator final : public Communicator {
 public:
  SingleCommunicator() : Communicator(CommInfo{}) {}
  std::string_view backend() const override { return "single"; }
  bool accepts(Device) const override { return true; }
  [[noreturn]] void abort(int exit_code, const std::string& reason) override {
    log::error("{}", reason);
    std::_Exit(exit_code);
  }

 protected:
  void allreduce_impl(TensorView, ReduceOp) override {}
  void allgatherv_impl(const TensorView& in, TensorView out, const std::vector<std::int64_t>&) override {
    copy_bytes(out.data, in.data, in.nbytes(), out.device, in.device, stream().native());
  }
  void broadcast_impl(TensorView, int) override {}
  void reduce_scatter_impl(const TensorView& in, TensorView out, ReduceOp) override {
    copy_bytes(out.data, in.data, out.nbytes(), out.device, in.device, stream().native());
  }
  void alltoallv_impl(const TensorView& in, const std::vector<std::int64_t>&, TensorView out,
                      const std::vector<std::int64_t>&) override {
    copy_bytes(out.data, in.data, in.nbytes(), out.device, in.device, stream().native());
  }
  void barrier_impl() override {}
  void host_allgather_impl(const void* in, void* out, std::size_t bytes) override { std::memcpy(out, in, bytes); }
  void host_allreduce_impl(void*, std::size_t, bool, ReduceOp) override {}
};

}  // namespace

std::unique_ptr<Communicator> make_single_communicator() { return std::make_unique<SingleCommunicator>(); }

}  // namespace recforge
