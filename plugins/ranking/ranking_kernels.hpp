// Kernels of the ranking evaluator. Shapes: B users in a block, I items, K the
// largest cut-off, G user groups, C candidates per positive (sampled protocol).
//   defines: ranking_mask, ranking_topk, ranking_topk_sort, ranking_score_topk,
//            ranking_metrics, ranking_mark_items, ranking_sampled_ranks
#pragma once

#include "metric_math.hpp"
#include "recforge/core/resources.hpp"
#include "recforge/core/tensor_view.hpp"
#include "recforge/registry/kernel_registry.hpp"

namespace recforge::ranking {

// scores (B, I): entries (b, cols[offsets[b] .. offsets[b+1])) become -inf.
// offsets (B + 1) i64, cols i32. Contract: = (in place).
using MaskFn = void(const Resources&, TensorView scores, const TensorView& offsets, const TensorView& cols);
RF_DECLARE_OP(ranking_mask, MaskFn);

// Top K of every row of scores (B, I) by (score desc, item id asc) into ids (B, K)
// i32 and values (B, K) f32. -inf and NaN entries are never selected; a row with
// fewer than K selectable entries is padded with id -1 and value -inf.
using TopkFn = void(const Resources&, const TensorView& scores, TensorView ids, TensorView values);
RF_DECLARE_OP(ranking_topk, TopkFn);
// The same result through a full (segmented) sort of every row: the CUB baseline
// the custom kernel is benchmarked against, and its fallback for large K.
RF_DECLARE_OP(ranking_topk_sort, TopkFn);
// Whether the custom CUDA top-K kernel handles this K (per-thread lists kept in
// registers/local memory bound the size; larger K goes to the sort).
inline constexpr std::int64_t kCudaTopkMaxK = 128;
inline bool cuda_topk_supports(std::int64_t k) { return k >= 1 && k <= kCudaTopkMaxK; }

// Full ranking of factor models in one step: the top K of every row of
// users (B, d) . items (I, d)^T after masking row b's items cols[offsets[b] ..
// offsets[b+1]) (sorted within each row), with topk's order, ties and padding.
// Equals gemm + mask + topk. CPU: scored in L2-sized tiles consumed at once
// (score_tiles.hpp), never the whole (B, I) block; CUDA: that composition.
using ScoreTopkFn = void(const Resources&, const TensorView& users, const TensorView& items, const TensorView& offsets,
                         const TensorView& cols, TensorView ids, TensorView values);
RF_DECLARE_OP(ranking_score_topk, ScoreTopkFn);

struct MetricInputs {
  TensorView topk;         // (B, K) i32
  TensorView rel_offsets;  // (B + 1) i64: the block's users' held-out items ...
  TensorView rel_cols;     // (nnz) i32, sorted per user
  TensorView rel_gains;    // (nnz) f32 ratings, or empty (binary relevance)
  TensorView groups;       // (B) i32 group of each user
  TensorView self_info;    // (I) f32, or empty (no novelty)
  TensorView unit_emb;     // (I, d) f32 unit item embeddings, or empty (no diversity)
};
// sums (G, cutoffs * kMetricsPerK) i64 += fixed-point metric values; counts (G) i64 += users.
using MetricsFn = void(const Resources&, const MetricInputs&, const MetricSpec&, TensorView sums, TensorView counts);
RF_DECLARE_OP(ranking_metrics, MetricsFn);

// marks (cutoffs, I) i32: marks[t, item] = 1 for every item in the first k[t] of a row of topk (B, K).
using MarkItemsFn = void(const Resources&, const TensorView& topk, const MetricSpec&, TensorView marks);
RF_DECLARE_OP(ranking_mark_items, MarkItemsFn);

// Sampled protocol: for positive p, candidates (P, C) hold the positive item in
// column 0 and negatives after it; ranks (P) i32 = 1 + the candidates that beat the
// positive (higher score, or equal score and smaller item id), scoring
// user_emb[users[p]] . item_emb[c].
using SampledRanksFn = void(const Resources&, const TensorView& user_emb, const TensorView& item_emb,
                            const TensorView& users, const TensorView& candidates, TensorView ranks);
RF_DECLARE_OP(ranking_sampled_ranks, SampledRanksFn);

void check_topk_args(const char* op, const TensorView& scores, const TensorView& ids, const TensorView& values);

inline void mask(const Resources& res, TensorView scores, const TensorView& offsets, const TensorView& cols) {
  check_dtype("ranking_mask scores", scores, DType::kF32);
  check_dtype("ranking_mask offsets", offsets, DType::kI64);
  check_dtype("ranking_mask cols", cols, DType::kI32);
  RF_CHECK(scores.ndim() == 2 && offsets.numel() == scores.shape[0] + 1, "ranking_mask: ", offsets.numel(),
           " offsets for ", scores.shape.str(), " scores");
  dispatch<ranking_mask_op>(scores.device)(res, scores, offsets, cols);
}

/// Top-K per row; on CUDA the custom kernel when it supports K, else the sort.
inline void topk(const Resources& res, const TensorView& scores, TensorView ids, TensorView values) {
  check_topk_args("ranking_topk", scores, ids, values);
  if (scores.device.is_cuda() && !cuda_topk_supports(ids.shape[1])) {
    dispatch<ranking_topk_sort_op>(scores.device)(res, scores, ids, values);
    return;
  }
  dispatch<ranking_topk_op>(scores.device)(res, scores, ids, values);
}

inline void topk_by_sort(const Resources& res, const TensorView& scores, TensorView ids, TensorView values) {
  check_topk_args("ranking_topk_sort", scores, ids, values);
  dispatch<ranking_topk_sort_op>(scores.device)(res, scores, ids, values);
}

void check_score_topk_args(const TensorView& users, const TensorView& items, const TensorView& offsets,
                           const TensorView& cols, const TensorView& ids, const TensorView& values);

/// scores = users items^T, training items masked, top K per row: the full-ranking step.
inline void score_topk(const Resources& res, const TensorView& users, const TensorView& items, const TensorView& offsets,
                       const TensorView& cols, TensorView ids, TensorView values) {
  check_score_topk_args(users, items, offsets, cols, ids, values);
  dispatch<ranking_score_topk_op>(users.device)(res, users, items, offsets, cols, ids, values);
}

void check_metric_args(const MetricInputs& in, const MetricSpec& spec, const TensorView& sums, const TensorView& counts);

inline void metrics(const Resources& res, const MetricInputs& in, const MetricSpec& spec, TensorView sums,
                    TensorView counts) {
  check_metric_args(in, spec, sums, counts);
  dispatch<ranking_metrics_op>(in.topk.device)(res, in, spec, sums, counts);
}

inline void mark_items(const Resources& res, const TensorView& topk, const MetricSpec& spec, TensorView marks) {
  check_dtype("ranking_mark_items", marks, DType::kI32);
  RF_CHECK(marks.ndim() == 2 && marks.shape[0] == spec.cutoffs, "ranking_mark_items: marks ", marks.shape.str());
  dispatch<ranking_mark_items_op>(topk.device)(res, topk, spec, marks);
}

inline void sampled_ranks(const Resources& res, const TensorView& user_emb, const TensorView& item_emb,
                          const TensorView& users, const TensorView& candidates, TensorView ranks) {
  RF_CHECK(user_emb.ndim() == 2 && item_emb.ndim() == 2 && user_emb.shape[1] == item_emb.shape[1],
           "ranking_sampled_ranks: embeddings ", user_emb.shape.str(), " and ", item_emb.shape.str());
  RF_CHECK(candidates.ndim() == 2 && candidates.shape[0] == users.numel() && ranks.numel() == users.numel(),
           "ranking_sampled_ranks: ", users.numel(), " users, candidates ", candidates.shape.str());
  dispatch<ranking_sampled_ranks_op>(users.device)(res, user_emb, item_emb, users, candidates, ranks);
}

}  // namespace recforge::ranking
