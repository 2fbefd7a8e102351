// Communicator: the collectives data-parallel training needs, on tensors of
// either device, behind one interface with three backends:
//
//   single  one process, no MPI (every collective is a local copy or no-op)
//   mpi     CPU tensors over MPI (Open MPI)
//   nccl    CUDA tensors over NCCL, bootstrapped over MPI (one GPU per local
//           rank); CPU tensors (metric sums, counts) over that MPI bootstrap
//
// The public methods are non-virtual: they check shapes, dtypes and devices,
// number the collective (a per-communicator sequence), optionally verify that
// every rank is calling the same collective with the same sizes (desync check),
// and arm the watchdog for its duration; then the backend's *_impl runs.
//
//   comm.allreduce(grads, ReduceOp::kSum);            // in place
//   comm.allgather(local_rows, all_rows);             // all_rows = world x local
//
// All ranks must call collectives in the same order with matching sizes.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "recforge/core/resources.hpp"
#include "recforge/core/tensor_view.hpp"

namespace recforge {

class Watchdog;

enum class ReduceOp { kSum, kAvg, kMax, kMin };
std::string_view reduce_op_name(ReduceOp op);

struct CommInfo {
  int rank = 0, world_size = 1;
  int local_rank = 0, local_size = 1;
};

class Communicator {
 public:
  virtual ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return info_.rank; }
  int world_size() const { return info_.world_size; }
  int local_rank() const { return info_.local_rank; }
  const CommInfo& info() const { return info_; }
  // "single", "mpi" or "nccl".
  virtual std::string_view backend() const = 0;
  // Whether tensors on `device` can take part (single: any; mpi: CPU; nccl: its GPU and the CPU).
  virtual bool accepts(Device device) const = 0;
  // The stream collectives on CUDA tensors are ordered on (nccl, and single with CUDA tensors).
  void set_stream(const Stream& stream) { stream_ = stream; }
  const Stream& stream() const { return stream_; }

  // In place over every rank. f32, f16, bf16 (accumulated in f32 on the CPU), i32, i64.
  void allreduce(TensorView tensor, ReduceOp op);
  // out (world * n, ...) = concatenation of every rank's `in` (n, ...), in rank order.
  void allgather(const TensorView& in, TensorView out);
  // Like allgather with `counts[r]` rows from rank r (rows = size of axis 0).
  void allgatherv(const TensorView& in, TensorView out, const std::vector<std::int64_t>& counts);
  void broadcast(TensorView tensor, int root);
  // out (n, ...) = reduction over ranks of rows [rank * n, (rank + 1) * n) of in (world * n, ...).
  void reduce_scatter(const TensorView& in, TensorView out, ReduceOp op);
  // Sends send_counts[r] rows of `in` (consecutively, rank order) to rank r and
  // receives recv_counts[r] rows from rank r into `out`.
  void alltoallv(const TensorView& in, const std::vector<std::int64_t>& send_counts, TensorView out,
                 const std::vector<std::int64_t>& recv_counts);
  void barrier();

  // Host-side helpers for control decisions (always on the CPU, whatever the backend).
  std::int64_t allreduce_int(std::int64_t value, ReduceOp op);
  // Several decisions in one collective (a step's NaN count and stop request).
  void allreduce_ints(std::span<std::int64_t> values, ReduceOp op);
  double allreduce_double(double value, ReduceOp op);
  std::vector<std::int64_t> allgather_int(std::int64_t value);
  std::vector<std::string> allgather_string(const std::string& value);

  // Number of collectives issued so far (the sequence number of the next one).
  std::uint64_t sequence() const { return sequence_; }
  // Verify before each tensor collective that every rank issues the same one
  // (sequence number, kind, element count); costs one small allgather each.
  void set_desync_check(bool enabled) { desync_check_ = enabled; }
  void set_watchdog(Watchdog* watchdog) { watchdog_ = watchdog; }
  Watchdog* watchdog() const { return watchdog_; }

  // Ends the job now from this rank (MPI_Abort / ncclCommAbort); never returns.
  [[noreturn]] virtual void abort(int exit_code, const std::string& reason) = 0;
  // An error the backend reports asynchronously (NCCL), for the watchdog to poll.
  virtual std::optional<std::string> async_error() const { return std::nullopt; }

 protected:
  explicit Communicator(CommInfo info) : info_(info) {}

  virtual void allreduce_impl(TensorView tensor, ReduceOp op) = 0;
  virtual void allgatherv_impl(const TensorView& in, TensorView out, const std::vector<std::int64_t>& counts) = 0;
  virtual void broadcast_impl(TensorView tensor, int root) = 0;
  virtual void reduce_scatter_impl(const TensorView& in, TensorView out, ReduceOp op) = 0;
  virtual void alltoallv_impl(const TensorView& in, const std::vector<std::int64_t>& send_counts, TensorView out,
                              const std::vector<std::int64_t>& recv_counts) = 0;
  virtual void barrier_impl() = 0;
  // Host bytes: every rank contributes `bytes` bytes; out receives world * bytes.
  virtual void host_allgather_impl(const void* in, void* out, std::size_t bytes) = 0;
  // Host int64/double reductions used by the helpers above.
  virtual void host_allreduce_impl(void* values, std::size_t count, bool is_double, ReduceOp op) = 0;

 private:
  struct Scope;
  void check_device(const char* what, const TensorView& t) const;
  void check_agreement(const char* what, std::int64_t elements);
  CommInfo info_;
  Stream stream_;
  std::uint64_t sequence_ = 0;
  bool desync_check_ = false;
  bool in_agreement_check_ = false;
  Watchdog* watchdog_ = nullptr;
};

// A communicator for one process: collectives are local.
std::unique_ptr<Communicator> make_single_communicator();

}  // namespace recforge
