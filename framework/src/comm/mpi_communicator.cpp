// MPI backend for CPU tensors (Open MPI).
//
// Counts are passed in rows through a contiguous row datatype, so tables of
// millions of rows never overflow MPI's int counts. f16 and bf16 reduce through
// user-defined MPI_Ops that convert to f32, add, and round back (the same
// rounding as the CPU conversion functions). Errors return (MPI_ERRORS_RETURN)
// and become recforge::Error with MPI's message.
#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <vector>

#include "comm/mpi_abort.hpp"
#include "comm/mpi_node.hpp"
#include "core/mpi_check.hpp"
#include "recforge/comm/communicator.hpp"
#include "recforge/comm/runtime.hpp"
#include "recforge/log/logging.hpp"

namespace recforge {
namespace {

MPI_Datatype mpi_type(DType dtype) {
  switch (dtype) {
    case DType::kF32: return MPI_FLOAT;
    case DType::kF16:
    case DType::kBF16: return MPI_UINT16_T;
    case DType::kI32: return MPI_INT32_T;
    case DType::kI64: return MPI_INT64_T;
    case DType::kU8: return MPI_UINT8_T;
  }
  return MPI_BYTE;
}

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg: return MPI_SUM;
    case ReduceOp::kMax: return MPI_MAX;
    case ReduceOp::kMin: return MPI_MIN;
  }
  return MPI_SUM;
}

// Element-wise reductions of 16-bit floats in f32.
template <class T, float (*ToFloat)(T), T (*FromFloat)(float), int kOp>
void reduce_16bit(void* in, void* inout, int* len, MPI_Datatype*) {
  const auto* a = static_cast<const T*>(in);
  auto* b = static_cast<T*>(inout);
  for (int i = 0; i < *len; ++i) {
    const float x = ToFloat(a[i]), y = ToFloat(b[i]);
    // NaN must win in max/min too (std::max drops NaN depending on argument order).
    const float r = kOp == 0 ? x + y : (x != x || y != y) ? x + y : kOp == 1 ? std::max(x, y) : std::min(x, y);
    b[i] = FromFloat(r);
  }
}

struct HalfOps {
  MPI_Op half[3] = {MPI_OP_NULL, MPI_OP_NULL, MPI_OP_NULL};
  MPI_Op bfloat[3] = {MPI_OP_NULL, MPI_OP_NULL, MPI_OP_NULL};
  HalfOps() {
    MPI_Op_create(&reduce_16bit<Half, half_to_float, float_to_half, 0>, 1, &half[0]);
    MPI_Op_create(&reduce_16bit<Half, half_to_float, float_to_half, 1>, 1, &half[1]);
    MPI_Op_create(&reduce_16bit<Half, half_to_float, float_to_half, 2>, 1, &half[2]);
    MPI_Op_create(&reduce_16bit<BFloat16, bfloat16_to_float, float_to_bfloat16, 0>, 1, &bfloat[0]);
    MPI_Op_create(&reduce_16bit<BFloat16, bfloat16_to_float, float_to_bfloat16, 1>, 1, &bfloat[1]);
    MPI_Op_create(&reduce_16bit<BFloat16, bfloat16_to_float, float_to_bfloat16, 2>, 1, &bfloat[2]);
  }
  MPI_Op get(DType dtype, ReduceOp op) const {
    const int index = op == ReduceOp::kMax ? 1 : op == ReduceOp::kMin ? 2 : 0;
    return dtype == DType::kF16 ? half[index] : bfloat[index];
  }
};

// Floating-point MAX/MIN that let a NaN on any rank reach every rank
// (RELIABILITY N3: MPI's MAX on float may drop NaNs like std::max does).
template <class T, int kOp>
void reduce_nan_aware(void* in, void* inout, int* len, MPI_Datatype*) {
  const auto* a = static_cast<const T*>(in);
  auto* b = static_cast<T*>(inout);
  for (int i = 0; i < *len; ++i) {
    if (a[i] != a[i] || b[i] != b[i]) {
      b[i] = a[i] + b[i];  // NaN
    } else {
      b[i] = kOp == 1 ? std::max(a[i], b[i]) : std::min(a[i], b[i]);
    }
  }
}

// A contiguous datatype of one row of `t` (freed on destruction).
class RowType {
 public:
  explicit RowType(const TensorView& t) {
    const std::int64_t row = t.ndim() == 0 || t.shape[0] == 0 ? 1 : t.numel() / t.shape[0];
    RF_CHECK(row <= INT_MAX, "rows of ", row, " elements exceed MPI's int count");
    RF_MPI_CHECK(MPI_Type_contiguous(static_cast<int>(std::max<std::int64_t>(row, 1)), mpi_type(t.dtype), &type_));
    RF_MPI_CHECK(MPI_Type_commit(&type_));
  }
  ~RowType() { MPI_Type_free(&type_); }
  RowType(const RowType&) = delete;
  RowType& operator=(const RowType&) = delete;
  MPI_Datatype get() const { return type_; }

 private:
  MPI_Datatype type_ = MPI_DATATYPE_NULL;
};

std::vector<int> to_int_counts(const std::vector<std::int64_t>& counts, const char* what) {
  std::vector<int> out;
  for (std::int64_t c : counts) {
    RF_CHECK(c >= 0 && c <= INT_MAX, what, ": a count of ", c, " rows exceeds MPI's int range");
    out.push_back(static_cast<int>(c));
  }
  return out;
}

std::vector<int> displacements(const std::vector<int>& counts) {
  std::vector<int> displ(counts.size(), 0);
  std::int64_t at = 0;
  for (std::size_t r = 0; r < counts.size(); ++r) {
    RF_CHECK(at <= INT_MAX, "displacement of ", at, " rows exceeds MPI's int range");
    displ[r] = static_cast<int>(at);
    at += counts[r];
  }
  return displ;
}

// Splits a large element count into chunks MPI's int counts can hold.
template <class Fn>
void in_chunks(std::int64_t n, Fn&& fn) {
  constexpr std::int64_t kChunk = 1 << 30;
  for (std::int64_t begin = 0; begin < n; begin += kChunk) fn(begin, std::min(kChunk, n - begin));
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator(MPI_Comm comm, CommInfo info) : Communicator(info), comm_(comm) {
    RF_MPI_CHECK(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
    MPI_Op_create(&reduce_nan_aware<float, 1>, 1, &float_max_);
    MPI_Op_create(&reduce_nan_aware<float, 2>, 1, &float_min_);
    MPI_Op_create(&reduce_nan_aware<double, 1>, 1, &double_max_);
    MPI_Op_create(&reduce_nan_aware<double, 2>, 1, &double_min_);
  }
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) {
      for (MPI_Op* op : {&float_max_, &float_min_, &double_max_, &double_min_}) MPI_Op_free(op);
      MPI_Comm_free(&comm_);
    }
  }
  std::string_view backend() const override { return "mpi"; }
  bool accepts(Device device) const override { return device.is_cpu(); }

  [[noreturn]] void abort(int exit_code, const std::string& reason) override {
    log::error("{}", reason);
    detail::abort_mpi_job(exit_code);
  }

 protected:
  MPI_Op float_op(DType, ReduceOp op) const {
    if (op == ReduceOp::kMax) return float_max_;
    if (op == ReduceOp::kMin) return float_min_;
    return MPI_SUM;
  }

  void allreduce_impl(TensorView t, ReduceOp op) override {
    const bool half = t.dtype == DType::kF16 || t.dtype == DType::kBF16;
    const MPI_Op reduction = half ? half_ops().get(t.dtype, op) : t.dtype == DType::kF32 ? float_op(t.dtype, op) : mpi_op(op);
    const std::size_t element = dtype_size(t.dtype);
    in_chunks(t.numel(), [&](std::int64_t begin, std::int64_t count) {
      RF_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, static_cast<char*>(t.data) + begin * static_cast<std::int64_t>(element),
                                 static_cast<int>(count), mpi_type(t.dtype), reduction, comm_));
    });
    if (op == ReduceOp::kAvg) scale(t, 1.0f / static_cast<float>(world_size()));
  }

  void allgatherv_impl(const TensorView& in, TensorView out, const std::vector<std::int64_t>& counts) override {
    const RowType row(out);
    const std::vector<int> c = to_int_counts(counts, "allgatherv");
    const std::vector<int> d = displacements(c);
    RF_MPI_CHECK(MPI_Allgatherv(in.data, c[static_cast<std::size_t>(rank())], row.get(), out.data, c.data(), d.data(),
                                row.get(), comm_));
  }

  void broadcast_impl(TensorView t, int root) override {
    const std::size_t element = dtype_size(t.dtype);
    in_chunks(t.numel(), [&](std::int64_t begin, std::int64_t count) {
      RF_MPI_CHECK(MPI_Bcast(static_cast<char*>(t.data) + begin * static_cast<std::int64_t>(element),
                             static_cast<int>(count), mpi_type(t.dtype), root, comm_));
    });
  }

  void reduce_scatter_impl(const TensorView& in, TensorView out, ReduceOp op) override {
    const bool half = in.dtype == DType::kF16 || in.dtype == DType::kBF16;
    const MPI_Op reduction = half ? half_ops().get(in.dtype, op) : in.dtype == DType::kF32 ? float_op(in.dtype, op) : mpi_op(op);
    RF_CHECK(out.numel() <= INT_MAX, "reduce_scatter: ", out.numel(), " elements per rank exceed MPI's int count");
    RF_MPI_CHECK(MPI_Reduce_scatter_block(in.data, out.data, static_cast<int>(out.numel()), mpi_type(in.dtype),
                                          reduction, comm_));
    if (op == ReduceOp::kAvg) scale(out, 1.0f / static_cast<float>(world_size()));
  }

  void alltoallv_impl(const TensorView& in, const std::vector<std::int64_t>& send_counts, TensorView out,
                      const std::vector<std::int64_t>& recv_counts) override {
    const RowType row(in.shape[0] > 0 ? in : out);
    const std::vector<int> sc = to_int_counts(send_counts, "alltoallv"), rc = to_int_counts(recv_counts, "alltoallv");
    const std::vector<int> sd = displacements(sc), rd = displacements(rc);
    RF_MPI_CHECK(MPI_Alltoallv(in.data, sc.data(), sd.data(), row.get(), out.data, rc.data(), rd.data(), row.get(), comm_));
  }

  void barrier_impl() override { RF_MPI_CHECK(MPI_Barrier(comm_)); }

  void host_allgather_impl(const void* in, void* out, std::size_t bytes) override {
    RF_CHECK(bytes <= INT_MAX, "host allgather of ", bytes, " bytes exceeds MPI's int count");
    RF_MPI_CHECK(MPI_Allgather(in, static_cast<int>(bytes), MPI_BYTE, out, static_cast<int>(bytes), MPI_BYTE, comm_));
  }

  void host_allreduce_impl(void* values, std::size_t count, bool is_double, ReduceOp op) override {
    const MPI_Op reduction = !is_double ? mpi_op(op)
                             : op == ReduceOp::kMax ? double_max_
                             : op == ReduceOp::kMin ? double_min_
                                                    : MPI_SUM;
    RF_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, values, static_cast<int>(count), is_double ? MPI_DOUBLE : MPI_INT64_T,
                               reduction, comm_));
  }

 private:
  static const HalfOps& half_ops() {
    static const HalfOps ops;
    return ops;
  }
  static void scale(TensorView t, float factor) {
    const std::int64_t n = t.numel();
    if (t.dtype == DType::kF32) {
      float* p = t.data_as<float>();
      for (std::int64_t i = 0; i < n; ++i) p[i] *= factor;
    } else if (t.dtype == DType::kF16) {
      Half* p = t.data_as<Half>();
      for (std::int64_t i = 0; i < n; ++i) p[i] = float_to_half(half_to_float(p[i]) * factor);
    } else if (t.dtype == DType::kBF16) {
      BFloat16* p = t.data_as<BFloat16>();
      for (std::int64_t i = 0; i < n; ++i) p[i] = float_to_bfloat16(bfloat16_to_float(p[i]) * factor);
    }
  }

  MPI_Comm comm_;
  MPI_Op float_max_ = MPI_OP_NULL, float_min_ = MPI_OP_NULL, double_max_ = MPI_OP_NULL, double_min_ = MPI_OP_NULL;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  RF_CHECK_KIND(ErrorKind::kMpi, initialized, "MPI is not initialised (start the job with mpirun, or use backend single)");
  MPI_Comm world = MPI_COMM_NULL;
  RF_MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &world));
  CommInfo info;
  RF_MPI_CHECK(MPI_Comm_rank(world, &info.rank));
  RF_MPI_CHECK(MPI_Comm_size(world, &info.world_size));
  const detail::NodePlace place = detail::node_place(world, info.rank);
  info.local_rank = place.local_rank;
  info.local_size = place.local_size;
  return std::make_unique<MpiCommunicator>(world, info);
}

}  // namespace recforge
