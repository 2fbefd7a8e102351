// Row operations on embedding tables and their sparse gradients.
//   defines: coalesce_rows, scatter_add_rows, gather_rows, tally_nonfinite, tally_nonfinite_rows
//   helpers: count_nonfinite, count_nonfinite_rows (a tally read back at once)
// Shapes: n ids, D columns, R table rows. Ids are checked on the CPU (a bad id
// is an error naming it, before anything is written); the CUDA kernels trust
// them (a check would cost a device-to-host sync per call): callers pass ids
// that come from validated data.
#pragma once

#include <cstdint>
#include <vector>

#include "recforge/core/resources.hpp"
#include "recforge/core/tensor.hpp"
#include "recforge/registry/kernel_registry.hpp"

namespace recforge::kernels {

// ids (n) i32, values (n, D) f32 -> out_ids (m) sorted unique, out_values (m, D):
// the rows of equal ids summed in input order (so results are reproducible).
// Allocates the outputs on the resources' device.
using CoalesceRowsFn = void(const Resources&, const TensorView& ids, const TensorView& values, Tensor& out_ids,
                            Tensor& out_values);
RF_DECLARE_OP(coalesce_rows, CoalesceRowsFn);

// table (R, D) += values (n, D) at rows ids (n), each element folded with its
// rows in input order on every device (bit-identical CPU/CUDA, run to run). Contract: +=.
using ScatterAddRowsFn = void(const Resources&, TensorView table, const TensorView& ids, const TensorView& values);
RF_DECLARE_OP(scatter_add_rows, ScatterAddRowsFn);

// out (n, D) = table (R, D) rows ids (n). Contract: =.
using GatherRowsFn = void(const Resources&, const TensorView& table, const TensorView& ids, TensorView out);
RF_DECLARE_OP(gather_rows, GatherRowsFn);

// counts[slot] += the number of NaN/Inf values in an f32 tensor; counts (S)
// i64 on the resources' device. Queued on the stream, no sync: a caller
// tallies many tensors into one counts tensor and reads it back once.
using TallyNonfiniteFn = void(const Resources&, const TensorView& values, TensorView counts, std::int64_t slot);
RF_DECLARE_OP(tally_nonfinite, TallyNonfiniteFn);

// counts[slot] += the number of NaN/Inf values in the rows ids (n) of table
// (R, D), a row counted as often as it is named: the parameter rows a step
// used, without a pass over the table.
using TallyNonfiniteRowsFn = void(const Resources&, const TensorView& table, const TensorView& ids, TensorView counts,
                                  std::int64_t slot);
RF_DECLARE_OP(tally_nonfinite_rows, TallyNonfiniteRowsFn);

void check_rows_args(const char* op, const Resources& res, const TensorView& ids, const TensorView& values);

/// Coalesces duplicate rows: sorted unique ids, values summed in input order.
/// @code
///   Tensor ids, rows;
///   coalesce_rows(res, grad.ids, grad.values, ids, rows);
/// @endcode
inline void coalesce_rows(const Resources& res, const TensorView& ids, const TensorView& values, Tensor& out_ids,
                          Tensor& out_values) {
  check_rows_args("coalesce_rows", res, ids, values);
  dispatch<coalesce_rows_op>(ids.device)(res, ids, values, out_ids, out_values);
}

inline void scatter_add_rows(const Resources& res, TensorView table, const TensorView& ids, const TensorView& values) {
  check_rows_args("scatter_add_rows", res, ids, values);
  check_dtype("scatter_add_rows table", table, DType::kF32);
  check_contiguous("scatter_add_rows table", table);
  RF_CHECK(table.ndim() == 2 && table.shape[1] == values.shape[1], "scatter_add_rows: table ", table.shape.str(),
           " and values ", values.shape.str(), " differ in columns");
  dispatch<scatter_add_rows_op>(ids.device)(res, table, ids, values);
}

inline void gather_rows(const Resources& res, const TensorView& table, const TensorView& ids, TensorView out) {
  check_rows_args("gather_rows", res, ids, out);
  check_dtype("gather_rows table", table, DType::kF32);
  check_contiguous("gather_rows table", table);
  RF_CHECK(table.ndim() == 2 && table.shape[1] == out.shape[1], "gather_rows: table ", table.shape.str(), " and out ",
           out.shape.str(), " differ in columns");
  dispatch<gather_rows_op>(ids.device)(res, table, ids, out);
}

void check_tally_args(const char* op, const Resources& res, const TensorView& counts, std::int64_t slot);

inline void tally_nonfinite(const Resources& res, const TensorView& values, TensorView counts, std::int64_t slot) {
  check_dtype("tally_nonfinite", values, DType::kF32);
  check_contiguous("tally_nonfinite", values);
  RF_CHECK(values.device == res.device(), "tally_nonfinite: values on ", values.device.str(), ", resources on ",
           res.device().str());
  check_tally_args("tally_nonfinite", res, counts, slot);
  dispatch<tally_nonfinite_op>(values.device)(res, values, counts, slot);
}

inline void tally_nonfinite_rows(const Resources& res, const TensorView& table, const TensorView& ids,
                                 TensorView counts, std::int64_t slot) {
  check_dtype("tally_nonfinite_rows table", table, DType::kF32);
  check_contiguous("tally_nonfinite_rows table", table);
  check_dtype("tally_nonfinite_rows ids", ids, DType::kI32);
  check_contiguous("tally_nonfinite_rows ids", ids);
  RF_CHECK(table.ndim() == 2 && ids.ndim() == 1 && table.device == ids.device && table.device == res.device(),
           "tally_nonfinite_rows: expected a (R, D) table and (n) ids on ", res.device().str(), ", got ",
           table.shape.str(), " on ", table.device.str(), " and ", ids.shape.str(), " on ", ids.device.str());
  check_tally_args("tally_nonfinite_rows", res, counts, slot);
  dispatch<tally_nonfinite_rows_op>(ids.device)(res, table, ids, counts, slot);
}

// counts (S) i64 on any device -> its values on the host (synchronises the stream).
std::vector<std::int64_t> read_counts(const Resources& res, const TensorView& counts);

// The number of NaN/Inf values in one tensor, read back at once (synchronises
// the stream on CUDA). Checking many tensors: tally them, read once.
inline std::int64_t count_nonfinite(const Resources& res, const TensorView& values) {
  Tensor counts = Tensor::zeros({1}, DType::kI64, res.device(), res.stream());
  tally_nonfinite(res, values, counts, 0);
  return read_counts(res, counts)[0];
}

inline std::int64_t count_nonfinite_rows(const Resources& res, const TensorView& table, const TensorView& ids) {
  Tensor counts = Tensor::zeros({1}, DType::kI64, res.device(), res.stream());
  tally_nonfinite_rows(res, table, ids, counts, 0);
  return read_counts(res, counts)[0];
}

}  // namespace recforge::kernels
