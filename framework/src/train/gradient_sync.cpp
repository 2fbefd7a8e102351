// Dense bucketed all-reduce and sparse row exchange (see gradient_sync.hpp).
#include "recforge/train/gradient_sync.hpp"

#include <numeric>

#include "recforge/kernels/rows.hpp"

namespace recforge {

GradientSync::GradientSync(Communicator& comm, const Resources& resources, GradientSyncOptions options)
    : comm_(comm), resources_(resources), options_(options) {}

GradientSyncStats GradientSync::synchronize(const std::vector<Parameter*>& params) {
  GradientSyncStats stats;
  std::vector<Parameter*> dense;
  for (Parameter* p : params) {
    if (p->is_embedding()) {
      sync_rows(*p, stats);
    } else {
      dense.push_back(p);
    }
  }
  sync_dense(dense, stats);
  return stats;
}

void GradientSync::sync_dense(const std::vector<Parameter*>& params, GradientSyncStats& stats) {
  if (comm_.world_size() == 1 || params.empty()) return;
  const std::int64_t bucket_elements = std::max<std::int64_t>(1, options_.bucket_bytes / 4);
  std::int64_t total = 0;
  for (Parameter* p : params) total += p->value().numel();
  Tensor bucket = Tensor::empty({std::min(bucket_elements, total)}, DType::kF32, resources_.allocator(), resources_.stream());
  // Packs gradients (possibly split across buckets) into the bucket, reduces, unpacks.
  struct Piece {
    Parameter* param;
    std::int64_t param_offset, bucket_offset, length;
  };
  std::vector<Piece> pieces;
  std::int64_t filled = 0;
  const auto flush = [&] {
    if (filled == 0) return;
    for (const Piece& piece : pieces) {
      Tensor dst = bucket.slice_rows(piece.bucket_offset, piece.bucket_offset + piece.length);
      dst.copy_from(piece.param->grad(resources_.stream()).reshape({piece.param->value().numel()}).slice_rows(
                        piece.param_offset, piece.param_offset + piece.length),
                    resources_.stream());
    }
    Tensor used = bucket.slice_rows(0, filled);
    comm_.allreduce(used, ReduceOp::kSum);
    for (const Piece& piece : pieces) {
      Tensor dst = piece.param->grad(resources_.stream()).reshape({piece.param->value().numel()}).slice_rows(
          piece.param_offset, piece.param_offset + piece.length);
      dst.copy_from(bucket.slice_rows(piece.bucket_offset, piece.bucket_offset + piece.length), resources_.stream());
    }
    stats.dense_bytes += filled * 4;
    pieces.clear();
    filled = 0;
  };
  for (Parameter* p : params) {
    const std::int64_t n = p->grad(resources_.stream()).numel();
    std::int64_t offset = 0;
    while (offset < n) {
      const std::int64_t take = std::min(n - offset, bucket.numel() - filled);
      pieces.push_back({p, offset, filled, take});
      filled += take;
      offset += take;
      if (filled == bucket.numel()) flush();
    }
  }
  flush();
}

void GradientSync::sync_rows(Parameter& param, GradientSyncStats& stats) {
  SparseRows& rows = param.rows();
  const std::int64_t d = param.value().size(1);
  if (rows.size() == 0) {
    rows.ids = Tensor::empty({0}, DType::kI32, resources_.allocator(), resources_.stream());
    rows.values = Tensor::empty({0, d}, DType::kF32, resources_.allocator(), resources_.stream());
  }
  Tensor ids, values;
  kernels::coalesce_rows(resources_, rows.ids, rows.values, ids, values);
  if (comm_.world_size() == 1) {
    rows = SparseRows{ids, values};
    return;
  }
  const std::vector<std::int64_t> counts = comm_.allgather_int(ids.numel());
  const std::int64_t total = std::accumulate(counts.begin(), counts.end(), std::int64_t{0});
  Tensor all_ids = Tensor::empty({total}, DType::kI32, resources_.allocator(), resources_.stream());
  comm_.allgatherv(ids, all_ids, counts);
  const std::int64_t table_rows = param.value().size(0);
  if (static_cast<double>(total) > options_.density_threshold * static_cast<double>(table_rows)) {
    // Dense fallback: all-reduce the whole table gradient, then keep the union of touched rows.
    Tensor table = Tensor::zeros(param.value().shape(), DType::kF32, param.value().device(), resources_.stream());
    kernels::scatter_add_rows(resources_, table, ids, values);
    comm_.allreduce(table, ReduceOp::kSum);
    Tensor ones = Tensor::zeros({total, 1}, DType::kF32, resources_.device(), resources_.stream());
    Tensor union_ids, unused;
    kernels::coalesce_rows(resources_, all_ids, ones, union_ids, unused);
    Tensor gathered = Tensor::empty({union_ids.numel(), d}, DType::kF32, resources_.allocator(), resources_.stream());
    kernels::gather_rows(resources_, table, union_ids, gathered);
    rows = SparseRows{union_ids, gathered};
    stats.dense_fallbacks += 1;
    stats.dense_bytes += table.numel() * 4;
    return;
  }
  Tensor all_values = Tensor::empty({total, d}, DType::kF32, resources_.allocator(), resources_.stream());
  comm_.allgatherv(values, all_values, counts);
  // Stable by id with rank-ordered input: equal ids sum in rank order on every rank.
  Tensor merged_ids, merged_values;
  kernels::coalesce_rows(resources_, all_ids, all_values, merged_ids, merged_values);
  rows = SparseRows{merged_ids, merged_values};
  stats.sparse_rows += total;
}

}  // namespace recforge
