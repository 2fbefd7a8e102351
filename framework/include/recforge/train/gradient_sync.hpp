// Gradient synchronisation across ranks, after the backward pass of a step.
//
// Dense parameters: gradients are packed into fused buckets (bucket_bytes) and
// all-reduced with SUM, a few large collectives instead of one per tensor.
//
// Embedding tables: each rank coalesces its gradient rows (sorted unique ids,
// duplicates summed), then the ranks exchange only those rows: an all-gather of
// row counts, ids and values, and every rank sums equal ids in rank order, so
// all ranks hold identical rows. When the touched rows exceed
// density_threshold x table rows, the exchange falls back to a dense all-reduce
// of the table's gradient (plus an all-gather of the ids, so both paths update
// the same rows). Both paths give the same result (see gradient_sync_test).
#pragma once

#include <cstdint>
#include <vector>

#include "recforge/comm/communicator.hpp"
#include "recforge/model/parameter.hpp"

namespace recforge {

struct GradientSyncOptions {
  std::int64_t bucket_bytes = 25 << 20;
  double density_threshold = 0.25;  // fraction of table rows; >= 1 disables the dense fallback
};

struct GradientSyncStats {
  std::int64_t dense_bytes = 0;       // all-reduced dense gradient bytes
  std::int64_t sparse_rows = 0;       // rows exchanged sparsely (all ranks)
  std::int64_t dense_fallbacks = 0;   // embedding tables exchanged densely
};

class GradientSync {
 public:
  GradientSync(Communicator& comm, const Resources& resources, GradientSyncOptions options);
  // After this, dense grads hold the SUM over ranks and each embedding's rows()
  // holds sorted unique ids with the rows summed over ranks.
  GradientSyncStats synchronize(const std::vector<Parameter*>& params);

 private:
  void sync_dense(const std::vector<Parameter*>& params, GradientSyncStats& stats);
  void sync_rows(Parameter& param, GradientSyncStats& stats);
  Communicator& comm_;
  const Resources& resources_;
  GradientSyncOptions options_;
};

}  // namespace recforge
