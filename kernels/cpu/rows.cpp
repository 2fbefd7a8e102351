// CPU reference kernels for row operations (see rows.hpp).
#include <algorithm>
#include <cmath>
#include <numeric>

#include <omp.h>

#include "recforge/kernels/rows.hpp"
#include "parallel_threshold.hpp"

namespace recforge::kernels {

void check_rows_args(const char* op, const Resources& res, const TensorView& ids, const TensorView& values) {
  check_dtype(op, ids, DType::kI32);
  check_dtype(op, values, DType::kF32);
  check_contiguous(op, ids);
  check_contiguous(op, values);
  check_same_device(op, ids, values);
  RF_CHECK(ids.device == res.device(), op, ": tensors on ", ids.device.str(), ", resources on ", res.device().str());
  RF_CHECK(ids.ndim() == 1 && values.ndim() == 2 && values.shape[0] == ids.shape[0], op, ": ids ", ids.shape.str(),
           " and values ", values.shape.str(), " do not pair up (expected (n) and (n, D))");
}

void check_tally_args(const char* op, const Resources& res, const TensorView& counts, std::int64_t slot) {
  check_dtype(op, counts, DType::kI64);
  check_contiguous(op, counts);
  RF_CHECK(counts.device == res.device(), op, ": counts on ", counts.device.str(), ", resources on ",
           res.device().str());
  RF_CHECK(counts.ndim() == 1 && slot >= 0 && slot < counts.numel(), op, ": slot ", slot, " outside counts ",
           counts.shape.str());
}

std::vector<std::int64_t> read_counts(const Resources& res, const TensorView& counts) {
  check_dtype("read_counts", counts, DType::kI64);
  const Tensor host = Tensor::wrap(counts).to(Device::cpu(), res.stream());
  res.stream().synchronize();
  return host.to_vector<std::int64_t>();
}

namespace {

// ids (n), values (n, D) -> sorted unique ids (m), summed rows (m, D).
void coalesce_rows_cpu(const Resources& res, const TensorView& ids, const TensorView& values, Tensor& out_ids,
                       Tensor& out_values) {
  const std::int64_t n = ids.numel(), d = values.shape[1];
  const std::int32_t* id = ids.data_as<std::int32_t>();
  const float* v = values.data_as<float>();
  RF_CHECK(n < (std::int64_t{1} << 32), "coalesce_rows: ", n, " rows exceed 32-bit positions");
  // Sort (id, position) keys: equal ids keep their input order, as a stable sort would.
  std::vector<std::uint64_t> keys(static_cast<std::size_t>(n));
  for (std::int64_t k = 0; k < n; ++k) {
    keys[static_cast<std::size_t>(k)] =
        (static_cast<std::uint64_t>(static_cast<std::uint32_t>(id[k]) ^ 0x80000000u) << 32) | static_cast<std::uint64_t>(k);
  }
  std::sort(keys.begin(), keys.end());
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  for (std::int64_t k = 0; k < n; ++k) order[static_cast<std::size_t>(k)] = static_cast<std::int64_t>(keys[static_cast<std::size_t>(k)] & 0xffffffffu);
  std::int64_t m = 0;
  for (std::int64_t k = 0; k < n; ++k) m += (k == 0 || id[order[static_cast<std::size_t>(k)]] != id[order[static_cast<std::size_t>(k - 1)]]);
  out_ids = Tensor::empty({m}, DType::kI32, res.allocator(), res.stream());
  out_values = Tensor::zeros({m, d}, DType::kF32);
  std::int32_t* oid = out_ids.data_as<std::int32_t>();
  float* ov = out_values.data_as<float>();
  std::int64_t j = -1;
  for (std::int64_t k = 0; k < n; ++k) {
    const std::int64_t src = order[static_cast<std::size_t>(k)];
    if (k == 0 || id[src] != oid[j]) oid[++j] = id[src];
    for (std::int64_t c = 0; c < d; ++c) ov[j * d + c] += v[src * d + c];
  }
}

// Rows are checked before any is read or written: a bad id leaves the output untouched.
void check_row_ids(const char* op, const std::int32_t* id, std::int64_t n, std::int64_t rows) {
  for (std::int64_t k = 0; k < n; ++k) {
    RF_CHECK(id[k] >= 0 && id[k] < rows, op, ": row id ", id[k], " outside [0, ", rows, ")");
  }
}

// table (R, D) += values (n, D) at ids (n). Ids repeat, so the threads split
// the columns rather than the rows: each element is summed in the order of
// the serial loop, whatever the thread count.
void scatter_add_rows_cpu(const Resources&, TensorView table, const TensorView& ids, const TensorView& values) {
  const std::int64_t n = ids.numel(), d = values.shape[1];
  const std::int32_t* id = ids.data_as<std::int32_t>();
  const float* v = values.data_as<float>();
  float* t = table.data_as<float>();
  check_row_ids("scatter_add_rows", id, n, table.shape[0]);
#pragma omp parallel if (n * d > kParallelElements && d >= 32)
  {
    const std::int64_t threads = omp_get_num_threads(), me = omp_get_thread_num();
    const std::int64_t begin = d * me / threads, end = d * (me + 1) / threads;
    for (std::int64_t k = 0; k < n; ++k) {
      float* row = t + id[k] * d;
      const float* add = v + k * d;
#pragma omp simd
      for (std::int64_t c = begin; c < end; ++c) row[c] += add[c];
    }
  }
}

// out (n, D) = table (R, D)[ids (n)].
void gather_rows_cpu(const Resources&, const TensorView& table, const TensorView& ids, TensorView out) {
  const std::int64_t n = ids.numel(), d = out.shape[1];
  const std::int32_t* id = ids.data_as<std::int32_t>();
  const float* t = table.data_as<float>();
  float* o = out.data_as<float>();
  check_row_ids("gather_rows", id, n, table.shape[0]);
#pragma omp parallel for schedule(static) if (n * d > kParallelElements)
  for (std::int64_t k = 0; k < n; ++k) std::copy(t + id[k] * d, t + (id[k] + 1) * d, o + k * d);
}

void tally_nonfinite_cpu(const Resources&, const TensorView& values, TensorView counts, std::int64_t slot) {
  const float* v = values.data_as<float>();
  const std::int64_t n = values.numel();
  std::int64_t bad = 0;
#pragma omp parallel for reduction(+ : bad) schedule(static) if (n > (std::int64_t{1} << 20))
  for (std::int64_t i = 0; i < n; ++i) bad += !std::isfinite(v[i]);
  counts.data_as<std::int64_t>()[slot] += bad;
}

// Rows are checked against the table: ids come from a step's sparse gradient.
void tally_nonfinite_rows_cpu(const Resources&, const TensorView& table, const TensorView& ids, TensorView counts,
                              std::int64_t slot) {
  const std::int64_t n = ids.numel(), d = table.shape[1], rows = table.shape[0];
  const std::int32_t* id = ids.data_as<std::int32_t>();
  const float* t = table.data_as<float>();
  std::int64_t bad = 0;
  for (std::int64_t k = 0; k < n; ++k) {
    RF_CHECK(id[k] >= 0 && id[k] < rows, "tally_nonfinite_rows: row id ", id[k], " outside [0, ", rows, ")");
    for (std::int64_t c = 0; c < d; ++c) bad += !std::isfinite(t[id[k] * d + c]);
  }
  counts.data_as<std::int64_t>()[slot] += bad;
}

}  // namespace

RF_REGISTER_KERNEL(coalesce_rows, kCPU, coalesce_rows_cpu);
RF_REGISTER_KERNEL(scatter_add_rows, kCPU, scatter_add_rows_cpu);
RF_REGISTER_KERNEL(gather_rows, kCPU, gather_rows_cpu);
RF_REGISTER_KERNEL(tally_nonfinite, kCPU, tally_nonfinite_cpu);
RF_REGISTER_KERNEL(tally_nonfinite_rows, kCPU, tally_nonfinite_rows_cpu);

}  // namespace recforge::kernels
