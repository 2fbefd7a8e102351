// Communicator front end: argument checks, sequence numbers, the optional
// desync check, and watchdog arming around every collective.
#include "recforge/comm/communicator.hpp"

#include <cstring>
#include <iterator>
#include <numeric>

#include "recforge/comm/watchdog.hpp"
#include "recforge/core/error.hpp"

namespace recforge {

std::string_view reduce_op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum: return "sum";
    case ReduceOp::kAvg: return "avg";
    case ReduceOp::kMax: return "max";
    case ReduceOp::kMin: return "min";
  }
  return "?";
}

Communicator::~Communicator() = default;

// Numbers the collective and keeps the watchdog informed while it runs.
struct Communicator::Scope {
  Communicator& comm;
  Scope(Communicator& c, std::string description) : comm(c) {
    if (comm.watchdog_) comm.watchdog_->begin(comm.sequence_, std::move(description));
    ++comm.sequence_;
  }
  ~Scope() {
    if (comm.watchdog_) comm.watchdog_->end();
  }
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;
};

namespace {

std::string describe(const char* what, const TensorView& t, std::string_view extra = {}) {
  std::string out = std::string(what) + "(" + std::string(dtype_name(t.dtype)) + " " + t.shape.str();
  if (!extra.empty()) out += ", " + std::string(extra);
  return out + ")";
}

std::int64_t row_elements(const TensorView& t) { return t.ndim() == 0 ? 1 : (t.shape[0] ? t.numel() / t.shape[0] : 0); }

void check_rows_compatible(const char* what, const TensorView& a, const TensorView& b) {
  RF_CHECK(a.ndim() == b.ndim(), what, ": tensors differ in rank (", a.shape.str(), " and ", b.shape.str(), ")");
  for (int d = 1; d < a.ndim(); ++d) {
    RF_CHECK(a.shape[d] == b.shape[d], what, ": row shapes differ (", a.shape.str(), " and ", b.shape.str(), ")");
  }
  RF_CHECK(a.dtype == b.dtype, what, ": dtypes differ (", dtype_name(a.dtype), " and ", dtype_name(b.dtype), ")");
}

// Collective kinds for the desync check, by index.
constexpr const char* kKinds[] = {"?",        "allreduce",     "allgatherv",       "broadcast",
                                  "reduce_scatter", "alltoallv", "barrier",        "allreduce_int",
                                  "allreduce_double", "allgather_int", "allgather_string"};

std::int64_t kind_id(const char* name) {
  for (std::int64_t k = 1; k < static_cast<std::int64_t>(std::size(kKinds)); ++k)
    if (std::strcmp(kKinds[k], name) == 0) return k;
  return 0;
}

const char* kind_name(std::int64_t kind) {
  return kind > 0 && kind < static_cast<std::int64_t>(std::size(kKinds)) ? kKinds[kind] : "?";
}

// Reductions take numbers, and an average needs fractions: NCCL would divide
// integers, MPI would not.
void check_reducible(const char* name, DType d, ReduceOp op) {
  RF_CHECK(d == DType::kF32 || d == DType::kF16 || d == DType::kBF16 || d == DType::kI32 || d == DType::kI64, name,
           ": unsupported dtype ", dtype_name(d));
  RF_CHECK(op != ReduceOp::kAvg || d == DType::kF32 || d == DType::kF16 || d == DType::kBF16, name,
           ": avg needs a floating-point tensor, got ", dtype_name(d));
}

}  // namespace

void Communicator::check_device(const char* what, const TensorView& t) const {
  RF_CHECK(accepts(t.device), what, ": the ", backend(), " communicator cannot use tensors on ", t.device.str());
  check_contiguous(what, t);
}

void Communicator::check_agreement(const char* what, std::int64_t elements) {
  if (!desync_check_ || world_size() == 1) return;
  const std::int64_t mine[3] = {static_cast<std::int64_t>(sequence_), kind_id(what), elements};
  std::vector<std::int64_t> all(static_cast<std::size_t>(3 * world_size()));
  {
    Scope scope(*this, std::string("desync check before ") + what);
    host_allgather_impl(mine, all.data(), sizeof mine);
  }
  for (int r = 0; r < world_size(); ++r) {
    const std::int64_t* theirs = all.data() + 3 * r;
    const std::int64_t* first = all.data();
    if (theirs[0] != first[0] || theirs[1] != first[1] || theirs[2] != first[2]) {
      RF_THROW_AGREED(ErrorKind::kCommunication, "collective desync: rank 0 issues #", first[0], " ",
                      kind_name(first[1]), " of ", first[2], " elements but rank ", r, " issues #", theirs[0], " ",
                      kind_name(theirs[1]), " of ", theirs[2],
                      " elements (ranks must call the same collectives in the same order)");
    }
  }
}

void Communicator::allreduce(TensorView tensor, ReduceOp op) {
  check_device("allreduce", tensor);
  check_reducible("allreduce", tensor.dtype, op);
  check_agreement("allreduce", tensor.numel());
  Scope scope(*this, describe("allreduce", tensor, reduce_op_name(op)));
  if (tensor.numel() > 0) allreduce_impl(tensor, op);
}

void Communicator::allgather(const TensorView& in, TensorView out) {
  RF_CHECK(in.ndim() >= 1, "allgather: needs at least 1-d tensors");
  allgatherv(in, out, std::vector<std::int64_t>(static_cast<std::size_t>(world_size()), in.shape[0]));
}

void Communicator::allgatherv(const TensorView& in, TensorView out, const std::vector<std::int64_t>& counts) {
  check_device("allgatherv", in);
  check_device("allgatherv", out);
  check_rows_compatible("allgatherv", in, out);
  RF_CHECK(static_cast<int>(counts.size()) == world_size(), "allgatherv: ", counts.size(), " counts for ",
           world_size(), " ranks");
  RF_CHECK(in.ndim() >= 1 && in.shape[0] == counts[static_cast<std::size_t>(rank())], "allgatherv: rank ", rank(),
           " contributes ", in.ndim() ? in.shape[0] : 0, " rows but counts say ", counts[static_cast<std::size_t>(rank())]);
  const std::int64_t total = std::accumulate(counts.begin(), counts.end(), std::int64_t{0});
  RF_CHECK(out.shape[0] == total, "allgatherv: output has ", out.shape[0], " rows, counts add up to ", total);
  check_agreement("allgatherv", total * row_elements(out));
  Scope scope(*this, describe("allgatherv", out));
  allgatherv_impl(in, out, counts);
}

void Communicator::broadcast(TensorView tensor, int root) {
  check_device("broadcast", tensor);
  RF_CHECK(root >= 0 && root < world_size(), "broadcast: root ", root, " outside [0, ", world_size(), ")");
  check_agreement("broadcast", tensor.numel());
  Scope scope(*this, describe("broadcast", tensor, "root " + std::to_string(root)));
  if (tensor.numel() > 0) broadcast_impl(tensor, root);
}

void Communicator::reduce_scatter(const TensorView& in, TensorView out, ReduceOp op) {
  check_device("reduce_scatter", in);
  check_device("reduce_scatter", out);
  check_rows_compatible("reduce_scatter", in, out);
  check_reducible("reduce_scatter", in.dtype, op);
  RF_CHECK(in.shape[0] == out.shape[0] * world_size(), "reduce_scatter: input has ", in.shape[0],
           " rows, expected ", world_size(), " x ", out.shape[0]);
  check_agreement("reduce_scatter", in.numel());
  Scope scope(*this, describe("reduce_scatter", in, reduce_op_name(op)));
  if (in.numel() > 0) reduce_scatter_impl(in, out, op);
}

void Communicator::alltoallv(const TensorView& in, const std::vector<std::int64_t>& send_counts, TensorView out,
                             const std::vector<std::int64_t>& recv_counts) {
  check_device("alltoallv", in);
  check_device("alltoallv", out);
  check_rows_compatible("alltoallv", in, out);
  RF_CHECK(static_cast<int>(send_counts.size()) == world_size() && static_cast<int>(recv_counts.size()) == world_size(),
           "alltoallv: needs one send and one receive count per rank");
  RF_CHECK(std::accumulate(send_counts.begin(), send_counts.end(), std::int64_t{0}) == in.shape[0],
           "alltoallv: send counts do not add up to the ", in.shape[0], " input rows");
  RF_CHECK(std::accumulate(recv_counts.begin(), recv_counts.end(), std::int64_t{0}) == out.shape[0],
           "alltoallv: receive counts do not add up to the ", out.shape[0], " output rows");
  check_agreement("alltoallv", 0);
  Scope scope(*this, describe("alltoallv", in));
  alltoallv_impl(in, send_counts, out, recv_counts);
}

void Communicator::barrier() {
  check_agreement("barrier", 0);
  Scope scope(*this, "barrier");
  barrier_impl();
}

std::int64_t Communicator::allreduce_int(std::int64_t value, ReduceOp op) {
  allreduce_ints({&value, 1}, op);
  return value;
}

void Communicator::allreduce_ints(std::span<std::int64_t> values, ReduceOp op) {
  RF_CHECK(op != ReduceOp::kAvg, "allreduce_int: avg is not defined for integers");
  check_agreement("allreduce_int", static_cast<std::int64_t>(values.size()));
  Scope scope(*this, "allreduce_int(" + std::string(reduce_op_name(op)) + ")");
  host_allreduce_impl(values.data(), values.size(), false, op);
}

double Communicator::allreduce_double(double value, ReduceOp op) {
  check_agreement("allreduce_double", 1);
  Scope scope(*this, "allreduce_double(" + std::string(reduce_op_name(op)) + ")");
  host_allreduce_impl(&value, 1, true, op == ReduceOp::kAvg ? ReduceOp::kSum : op);
  return op == ReduceOp::kAvg ? value / world_size() : value;
}

std::vector<std::int64_t> Communicator::allgather_int(std::int64_t value) {
  std::vector<std::int64_t> out(static_cast<std::size_t>(world_size()));
  check_agreement("allgather_int", 1);
  Scope scope(*this, "allgather_int");
  host_allgather_impl(&value, out.data(), sizeof value);
  return out;
}

std::vector<std::string> Communicator::allgather_string(const std::string& value) {
  const std::vector<std::int64_t> lengths = allgather_int(static_cast<std::int64_t>(value.size()));
  const std::int64_t longest = *std::max_element(lengths.begin(), lengths.end());
  std::string padded = value;
  padded.resize(static_cast<std::size_t>(longest));
  std::string all(static_cast<std::size_t>(longest * world_size()), '\0');
  check_agreement("allgather_string", longest);
  {
    Scope scope(*this, "allgather_string");
    if (longest > 0) host_allgather_impl(padded.data(), all.data(), static_cast<std::size_t>(longest));
  }
  std::vector<std::string> out;
  for (int r = 0; r < world_size(); ++r) {
    out.push_back(all.substr(static_cast<std::size_t>(r * longest), static_cast<std::size_t>(lengths[static_cast<std::size_t>(r)])));
  }
  return out;
}

}  // namespace recforge
