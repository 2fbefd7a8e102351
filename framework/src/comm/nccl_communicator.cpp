// NCCL backend for CUDA tensors, bootstrapped over MPI (or a single process).
//
// The communicator is non-blocking (so a stuck peer cannot hang a rank outside
// the watchdog): init, a collective or ncclGroupEnd may answer ncclInProgress,
// meaning the call is still being issued; `issued` polls ncclCommGetAsyncError
// until it is, before anything waits on the stream or calls NCCL again.
// Collectives are then waited for in a loop that polls cudaStreamQuery and
// ncclCommGetAsyncError ("blocking wait"): an asynchronous NCCL error surfaces
// as a recforge::Error here, and a hang is caught by the watchdog, whose abort
// calls ncclCommAbort before the process ends (NCCL issue 863: abort the
// communicator, not only the process).
#include <cuda_runtime_api.h>
#include <nccl.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <cstdlib>
#include <thread>

#include "recforge/comm/runtime.hpp"
#include "recforge/core/cuda_runtime.hpp"
#include "recforge/cuda/check.cuh"
#include "recforge/log/logging.hpp"

namespace recforge {
namespace {

ncclDataType_t nccl_type(DType dtype) {
  switch (dtype) {
    case DType::kF32: return ncclFloat32;
    case DType::kF16: return ncclFloat16;
    case DType::kBF16: return ncclBfloat16;
    case DType::kI32: return ncclInt32;
    case DType::kI64: return ncclInt64;
    case DType::kU8: return ncclUint8;
  }
  return ncclUint8;
}

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum: return ncclSum;
    case ReduceOp::kAvg: return ncclAvg;
    case ReduceOp::kMax: return ncclMax;
    case ReduceOp::kMin: return ncclMin;
  }
  return ncclSum;
}

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(std::unique_ptr<Communicator> bootstrap, int device, double init_timeout_seconds)
      : Communicator(bootstrap->info()), bootstrap_(std::move(bootstrap)), device_(device) {
    const int visible = cuda::device_count();
    RF_CHECK_KIND(ErrorKind::kCuda, device >= 0 && device < visible, "rank ", rank(), " (local rank ", local_rank(),
                  ") wants CUDA device ", device, " but sees ", visible, " (one GPU per local rank)");
    cuda::set_device(device);
    ncclUniqueId id{};
    if (rank() == 0) RF_NCCL_CHECK(ncclGetUniqueId(&id));
    std::vector<std::string> ids = bootstrap_->allgather_string(
        rank() == 0 ? std::string(reinterpret_cast<const char*>(&id), sizeof id) : std::string());
    RF_CHECK_KIND(ErrorKind::kCommunication, ids[0].size() == sizeof id, "rank 0 sent a ", ids[0].size(),
                  "-byte NCCL unique id; expected ", sizeof id, " (did every rank choose the NCCL backend?)");
    std::memcpy(&id, ids[0].data(), sizeof id);
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;  // non-blocking init, so a stuck peer cannot hang us outside the watchdog
    // JobSession's watchdog watches the whole set-up (this exchange and init)
    // and, with the same timeout, fires first; the deadline bounds init for a
    // caller without a watchdog.
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(init_timeout_seconds));
    issued(ncclCommInitRankConfig(&comm_, world_size(), id, rank(), &config), deadline);
    set_stream(Stream::create(Device::cuda(device)));
  }

  // Finalize flushes what is still in flight (polled: the communicator is
  // non-blocking) before destroy frees it; a peer that never quiesces within
  // the bound gets the communicator aborted instead of a hang at exit.
  ~NcclCommunicator() override {
    if (comm_ == nullptr) return;
    ncclResult_t state = ncclCommFinalize(comm_);
    if (state == ncclInProgress) state = poll_until_issued(Clock::now() + std::chrono::seconds(10));
    if (state == ncclSuccess) {
      ncclCommDestroy(comm_);
    } else {
      ncclCommAbort(comm_);
    }
  }

  std::string_view backend() const override { return "nccl"; }
  bool accepts(Device device) const override { return device.is_cpu() || device == Device::cuda(device_); }

  [[noreturn]] void abort(int exit_code, const std::string& reason) override {
    log::error("{}", reason);
    if (comm_ != nullptr) ncclCommAbort(comm_);
    comm_ = nullptr;
    bootstrap_->abort(exit_code, "NCCL communicator aborted on rank " + std::to_string(rank()));
    std::_Exit(exit_code);  // not reached; virtual calls do not carry [[noreturn]] for every compiler
  }

  std::optional<std::string> async_error() const override {
    if (comm_ == nullptr) return std::nullopt;
    ncclResult_t state = ncclSuccess;
    if (ncclCommGetAsyncError(comm_, &state) == ncclSuccess && (state == ncclSuccess || state == ncclInProgress)) {
      return std::nullopt;
    }
    return "rank " + std::to_string(rank()) + ": NCCL asynchronous error: " + ncclGetErrorString(state);
  }

 protected:
  cudaStream_t cuda_stream() const { return static_cast<cudaStream_t>(stream().native()); }

  using Clock = std::chrono::steady_clock;

  // Polls a call the non-blocking communicator answered with ncclInProgress
  // until it is issued, or until `deadline`; returns the communicator's state
  // then (still ncclInProgress if the deadline passed). Never throws: the
  // destructor uses it too.
  ncclResult_t poll_until_issued(std::optional<Clock::time_point> deadline = std::nullopt) const {
    ncclResult_t state = ncclInProgress;
    for (int polls = 0;; ++polls) {
      const ncclResult_t asked = ncclCommGetAsyncError(comm_, &state);
      if (asked != ncclSuccess) return asked;
      if (state != ncclInProgress || (deadline && Clock::now() > *deadline)) return state;
      if (polls < 1000) {
        std::this_thread::yield();  // a collective's connection set-up: usually brief
      } else {
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
    }
  }

  // Checks the answer of an NCCL call and waits until it is issued. A peer that
  // never joins leaves this to the watchdog, or at init (before there is a
  // watchdog) to the deadline, which aborts the communicator.
  void issued(ncclResult_t result, std::optional<Clock::time_point> deadline = std::nullopt) {
    const ncclResult_t state = result == ncclInProgress ? poll_until_issued(deadline) : result;
    if (state == ncclInProgress) {
      ncclCommAbort(comm_);
      comm_ = nullptr;
      RF_THROW(ErrorKind::kNccl, "rank ", rank(), ": NCCL initialisation did not finish in time (a rank that never "
               "joined? comm.watchdog_timeout bounds it)");
    }
    RF_NCCL_CHECK(state);
  }

  // Calls inside ncclGroupStart/End: every call is made and the group always
  // closed, even when one fails (an open group would silently swallow every
  // later call on this thread). The group is issued to the end before any
  // error leaves (no NCCL call may follow one in progress); then the first
  // failure is reported.
  template <class Calls>
  void grouped(Calls calls) {
    RF_NCCL_CHECK(ncclGroupStart());
    ncclResult_t first = ncclSuccess;
    calls([&first](ncclResult_t result) {
      if (first == ncclSuccess && result != ncclSuccess && result != ncclInProgress) first = result;
    });
    const ncclResult_t end = ncclGroupEnd();
    const ncclResult_t state = end == ncclInProgress ? poll_until_issued() : end;
    RF_NCCL_CHECK(first);
    RF_NCCL_CHECK(state);
  }

  // Waits for the stream, surfacing NCCL async errors (the watchdog handles timeouts).
  void wait() {
    while (true) {
      const cudaError_t status = cudaStreamQuery(cuda_stream());
      if (status == cudaSuccess) return;
      if (status != cudaErrorNotReady) RF_CUDA_CHECK(status);
      if (auto error = async_error()) RF_THROW(ErrorKind::kNccl, *error);
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  // CPU tensors (an evaluation's metric sums and counts, say) go through the
  // MPI bootstrap; a collective keeps both its tensors on one device.
  bool on_host(const char* what, const TensorView& a, const TensorView& b) const {
    RF_CHECK(a.device == b.device, what, ": the nccl communicator needs both tensors on one device, got ",
             a.device.str(), " and ", b.device.str());
    return a.device.is_cpu();
  }

  void allreduce_impl(TensorView t, ReduceOp op) override {
    if (on_host("allreduce", t, t)) return bootstrap_->allreduce(t, op);
    issued(ncclAllReduce(t.data, t.data, static_cast<std::size_t>(t.numel()), nccl_type(t.dtype), nccl_op(op), comm_,
                         cuda_stream()));
    wait();
  }

  void allgatherv_impl(const TensorView& in, TensorView out, const std::vector<std::int64_t>& counts) override {
    if (on_host("allgather", in, out)) return bootstrap_->allgatherv(in, out, counts);
    const std::int64_t row = out.shape[0] ? out.numel() / out.shape[0] : 0;
    const std::size_t element = dtype_size(out.dtype);
    bool equal = true;
    for (std::int64_t c : counts) equal &= c == counts[0];
    if (equal) {
      issued(ncclAllGather(in.data, out.data, static_cast<std::size_t>(in.numel()), nccl_type(in.dtype), comm_,
                           cuda_stream()));
    } else {
      // Uneven pieces: one broadcast per rank inside a group.
      grouped([&](const auto& check) {
        std::int64_t offset = 0;
        for (int r = 0; r < world_size(); ++r) {
          const std::size_t n = static_cast<std::size_t>(counts[static_cast<std::size_t>(r)] * row);
          char* dst = static_cast<char*>(out.data) + offset * row * static_cast<std::int64_t>(element);
          check(ncclBroadcast(r == rank() ? in.data : dst, dst, n, nccl_type(out.dtype), r, comm_, cuda_stream()));
          offset += counts[static_cast<std::size_t>(r)];
        }
      });
    }
    wait();
  }

  void broadcast_impl(TensorView t, int root) override {
    if (on_host("broadcast", t, t)) return bootstrap_->broadcast(t, root);
    issued(ncclBroadcast(t.data, t.data, static_cast<std::size_t>(t.numel()), nccl_type(t.dtype), root, comm_,
                         cuda_stream()));
    wait();
  }

  void reduce_scatter_impl(const TensorView& in, TensorView out, ReduceOp op) override {
    if (on_host("reduce_scatter", in, out)) return bootstrap_->reduce_scatter(in, out, op);
    issued(ncclReduceScatter(in.data, out.data, static_cast<std::size_t>(out.numel()), nccl_type(in.dtype), nccl_op(op),
                             comm_, cuda_stream()));
    wait();
  }

  void alltoallv_impl(const TensorView& in, const std::vector<std::int64_t>& send_counts, TensorView out,
                      const std::vector<std::int64_t>& recv_counts) override {
    if (on_host("alltoallv", in, out)) return bootstrap_->alltoallv(in, send_counts, out, recv_counts);
    const TensorView& shape_source = in.shape[0] > 0 ? in : out;
    const std::int64_t row = shape_source.shape[0] ? shape_source.numel() / shape_source.shape[0] : 0;
    const std::int64_t row_bytes = row * static_cast<std::int64_t>(dtype_size(in.dtype));
    grouped([&](const auto& check) {
      std::int64_t send_offset = 0, recv_offset = 0;
      for (int r = 0; r < world_size(); ++r) {
        const auto s = send_counts[static_cast<std::size_t>(r)], c = recv_counts[static_cast<std::size_t>(r)];
        if (s > 0) {
          check(ncclSend(static_cast<const char*>(in.data) + send_offset * row_bytes, static_cast<std::size_t>(s * row),
                         nccl_type(in.dtype), r, comm_, cuda_stream()));
        }
        if (c > 0) {
          check(ncclRecv(static_cast<char*>(out.data) + recv_offset * row_bytes, static_cast<std::size_t>(c * row),
                         nccl_type(out.dtype), r, comm_, cuda_stream()));
        }
        send_offset += s;
        recv_offset += c;
      }
    });
    wait();
  }

  void barrier_impl() override {
    wait();
    bootstrap_->barrier();
  }

  void host_allgather_impl(const void* in, void* out, std::size_t bytes) override {
    const std::string mine(static_cast<const char*>(in), bytes);
    const std::vector<std::string> all = bootstrap_->allgather_string(mine);
    for (std::size_t r = 0; r < all.size(); ++r) std::memcpy(static_cast<char*>(out) + r * bytes, all[r].data(), bytes);
  }

  void host_allreduce_impl(void* values, std::size_t count, bool is_double, ReduceOp op) override {
    if (!is_double) {  // one bootstrap collective for all of them
      bootstrap_->allreduce_ints(std::span(static_cast<std::int64_t*>(values), count), op);
      return;
    }
    for (std::size_t i = 0; i < count; ++i) {
      auto* v = static_cast<double*>(values) + i;
      *v = bootstrap_->allreduce_double(*v, op);
    }
  }


 private:
  std::unique_ptr<Communicator> bootstrap_;
  int device_;
  ncclComm_t comm_ = nullptr;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(std::unique_ptr<Communicator> bootstrap, int device,
                                                     double init_timeout_seconds) {
  return std::make_unique<NcclCommunicator>(std::move(bootstrap), device, init_timeout_seconds);
}

}  // namespace recforge
