// CPU reference kernels of the ranking evaluator (see ranking_kernels.hpp).
#include <algorithm>
#include <cmath>
#include <vector>


#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "ranking_kernels.hpp"
#include "score_tiles.hpp"

namespace recforge::ranking {

void check_topk_args(const char* op, const TensorView& scores, const TensorView& ids, const TensorView& values) {
  check_dtype(op, scores, DType::kF32);
  check_dtype(op, ids, DType::kI32);
  check_dtype(op, values, DType::kF32);
  RF_CHECK(scores.ndim() == 2 && ids.ndim() == 2 && ids.shape == values.shape && ids.shape[0] == scores.shape[0],
           op, ": scores ", scores.shape.str(), ", ids ", ids.shape.str(), ", values ", values.shape.str());
  RF_CHECK(ids.shape[1] >= 1, op, ": K must be at least 1");
  check_contiguous(op, ids);
  check_contiguous(op, values);
  RF_CHECK(scores.strides[1] == 1, op, ": score rows must be contiguous");
}

void check_metric_args(const MetricInputs& in, const MetricSpec& spec, const TensorView& sums, const TensorView& counts) {
  RF_CHECK(spec.cutoffs >= 1 && spec.cutoffs <= kMaxCutoffs, "ranking: between 1 and ", kMaxCutoffs, " cut-offs");
  for (int t = 0; t < spec.cutoffs; ++t) {
    RF_CHECK(spec.k[t] >= 1 && spec.k[t] <= in.topk.shape[1], "ranking: cut-off ", spec.k[t], " outside [1, ",
             in.topk.shape[1], "]");
  }
  check_dtype("ranking_metrics topk", in.topk, DType::kI32);
  check_dtype("ranking_metrics sums", sums, DType::kI64);
  check_dtype("ranking_metrics counts", counts, DType::kI64);
  RF_CHECK(in.rel_offsets.numel() == in.topk.shape[0] + 1 && in.groups.numel() == in.topk.shape[0],
           "ranking_metrics: offsets/groups do not match ", in.topk.shape[0], " users");
  RF_CHECK(sums.ndim() == 2 && sums.shape[1] == spec.cutoffs * kMetricsPerK && counts.numel() == sums.shape[0],
           "ranking_metrics: sums ", sums.shape.str(), " for ", spec.cutoffs, " cut-offs");
  RF_CHECK(!spec.graded || in.rel_gains.numel() == in.rel_cols.numel(), "ranking_metrics: graded NDCG needs gains");
}

void check_score_topk_args(const TensorView& users, const TensorView& items, const TensorView& offsets,
                           const TensorView& cols, const TensorView& ids, const TensorView& values) {
  const char* op = "ranking_score_topk";
  check_dtype(op, users, DType::kF32);
  check_dtype(op, items, DType::kF32);
  check_dtype(op, offsets, DType::kI64);
  check_dtype(op, cols, DType::kI32);
  check_dtype(op, ids, DType::kI32);
  check_dtype(op, values, DType::kF32);
  RF_CHECK(users.ndim() == 2 && items.ndim() == 2 && users.shape[1] == items.shape[1], op, ": users ",
           users.shape.str(), " and items ", items.shape.str());
  RF_CHECK(ids.ndim() == 2 && ids.shape == values.shape && ids.shape[0] == users.shape[0] && ids.shape[1] >= 1, op,
           ": ids ", ids.shape.str(), " and values ", values.shape.str(), " for ", users.shape[0], " users");
  RF_CHECK(offsets.numel() == users.shape[0] + 1, op, ": ", offsets.numel(), " offsets for ", users.shape[0], " users");
  for (const TensorView* t : {&users, &items, &offsets, &cols, &ids, &values}) check_contiguous(op, *t);
  check_same_device(op, users, items);
  check_same_device(op, users, ids);
}

namespace {

// Puts score s of `item`, which beats the K-th of a sorted top-K list with
// `filled` entries, in its place, and returns the list's new threshold. Items
// arrive in increasing id, so on equal scores the smaller id stays ahead.
inline float insert_topk(float s, std::int32_t item, std::int64_t k, std::int32_t* best_id, float* best,
                         std::int64_t& filled) {
  std::int64_t p = filled < k ? filled++ : k - 1;
  while (p > 0 && best[p - 1] < s) {
    best[p] = best[p - 1];
    best_id[p] = best_id[p - 1];
    --p;
  }
  best[p] = s;
  best_id[p] = item;
  return filled == k ? best[k - 1] : -INFINITY;
}

// Pads a list that found fewer than K selectable items.
inline void pad_topk(std::int64_t filled, std::int64_t k, std::int32_t* best_id, float* best) {
  for (std::int64_t p = filled; p < k; ++p) {
    best[p] = -INFINITY;
    best_id[p] = -1;
  }
}

// Inserts scores[0, n) of items first_item.. into a sorted top-K list (`filled`
// entries so far): an item enters only if it beats the current K-th. Most
// scores lose to the threshold; with SSE2 sixteen of them are rejected at once.
inline void scan_topk(const float* scores, std::int64_t n, std::int32_t first_item, std::int64_t k, std::int32_t* best_id,
                      float* best, std::int64_t& filled) {
  float threshold = filled == k ? best[k - 1] : -INFINITY;
  const auto insert = [&](std::int64_t i) {
    const float s = scores[i];
    if (!(s > threshold)) return;  // also drops NaN and -inf
    threshold = insert_topk(s, first_item + static_cast<std::int32_t>(i), k, best_id, best, filled);
  };
  std::int64_t i = 0;
#if defined(__SSE2__)
  for (; i + 16 <= n; i += 16) {
    const __m128 t = _mm_set1_ps(threshold);
    const __m128 any = _mm_or_ps(_mm_or_ps(_mm_cmpgt_ps(_mm_loadu_ps(scores + i), t), _mm_cmpgt_ps(_mm_loadu_ps(scores + i + 4), t)),
                                 _mm_or_ps(_mm_cmpgt_ps(_mm_loadu_ps(scores + i + 8), t), _mm_cmpgt_ps(_mm_loadu_ps(scores + i + 12), t)));
    if (_mm_movemask_ps(any) == 0) continue;  // no score in the chunk beats the K-th (NaN compares false)
    for (std::int64_t j = i; j < i + 16; ++j) insert(j);
  }
#endif
  for (; i < n; ++i) insert(i);
}

// scores (B, I), offsets (B + 1), cols (nnz).
void mask_cpu(const Resources&, TensorView scores, const TensorView& offsets, const TensorView& cols) {
  const std::int64_t* off = offsets.data_as<std::int64_t>();
  const std::int32_t* col = cols.data_as<std::int32_t>();
  const std::int64_t items = scores.shape[1];
  for (std::int64_t b = 0; b < scores.shape[0]; ++b) {
    float* row = scores.data_as<float>() + b * scores.strides[0];
    for (std::int64_t j = off[b]; j < off[b + 1]; ++j) {
      RF_CHECK(col[j] >= 0 && col[j] < items, "ranking_mask: item ", col[j], " outside [0, ", items, ")");
      row[col[j]] = -INFINITY;
    }
  }
}

// One row at a time through scan_topk.
void topk_cpu(const Resources&, const TensorView& scores, TensorView ids, TensorView values) {
  const std::int64_t rows = scores.shape[0], items = scores.shape[1], k = ids.shape[1];
#pragma omp parallel for schedule(dynamic, 16)
  for (std::int64_t b = 0; b < rows; ++b) {
    std::int32_t* best_id = ids.data_as<std::int32_t>() + b * k;
    float* best = values.data_as<float>() + b * k;
    std::int64_t filled = 0;
    scan_topk(scores.data_as<float>() + b * scores.strides[0], items, 0, k, best_id, best, filled);
    pad_topk(filled, k, best_id, best);
  }
}

// One item-major tile (score_tiles.hpp) into the lists of its users: mask the
// users' training items in the tile, then offer every score to its user's
// list. Each user's threshold (its K-th score) sits beside its neighbours', so
// sixteen users' scores of one item are rejected at once.
struct TileSelection {
  const std::int64_t* off;
  const std::int32_t* col;
  std::int64_t k;
  std::int32_t* ids;
  float* values;
  std::vector<float> threshold;        // per user: the K-th score, -inf until K found
  std::vector<std::int64_t> filled;    // per user: entries in its list
  std::vector<std::int64_t> cursor;    // per user: next training item to mask

  void operator()(const ScoreTile& t) {
    const std::int64_t item_end = t.item_begin + t.items;
    for (std::int64_t u = 0; u < t.users; ++u) {
      const std::int64_t b = t.user_begin + u;
      std::int64_t j = cursor[static_cast<std::size_t>(b)];
      for (; j < off[b + 1] && col[j] < item_end; ++j) t.scores[(col[j] - t.item_begin) * t.users + u] = -INFINITY;
      cursor[static_cast<std::size_t>(b)] = j;
    }
    float* thr = threshold.data() + t.user_begin;
    const auto offer = [&](const float* row, std::int64_t u, std::int32_t item) {
      if (!(row[u] > thr[u])) return;  // also drops NaN and -inf
      const std::int64_t b = t.user_begin + u;
      thr[u] = insert_topk(row[u], item, k, ids + b * k, values + b * k, filled[static_cast<std::size_t>(b)]);
    };
    for (std::int64_t i = 0; i < t.items; ++i) {
      const float* row = t.scores + i * t.users;
      const auto item = static_cast<std::int32_t>(t.item_begin + i);
      std::int64_t u = 0;
#if defined(__SSE2__)
      for (; u + 16 <= t.users; u += 16) {
        const __m128 any =
            _mm_or_ps(_mm_or_ps(_mm_cmpgt_ps(_mm_loadu_ps(row + u), _mm_loadu_ps(thr + u)),
                                _mm_cmpgt_ps(_mm_loadu_ps(row + u + 4), _mm_loadu_ps(thr + u + 4))),
                      _mm_or_ps(_mm_cmpgt_ps(_mm_loadu_ps(row + u + 8), _mm_loadu_ps(thr + u + 8)),
                                _mm_cmpgt_ps(_mm_loadu_ps(row + u + 12), _mm_loadu_ps(thr + u + 12))));
        if (_mm_movemask_ps(any) == 0) continue;
        for (std::int64_t v = u; v < u + 16; ++v) offer(row, v, item);
      }
#endif
      for (; u < t.users; ++u) offer(row, u, item);
    }
  }
};

void score_topk_cpu(const Resources&, const TensorView& users, const TensorView& items, const TensorView& offsets,
                    const TensorView& cols, TensorView ids, TensorView values) {
  const std::int64_t rows = users.shape[0], n_items = items.shape[0], k = ids.shape[1];
  const std::int64_t* off = offsets.data_as<std::int64_t>();
  const std::int32_t* col = cols.data_as<std::int32_t>();
  // Checked here, outside the threads: the tiles mask with a cursor per user.
  RF_CHECK(off[0] == 0 && off[rows] == cols.numel(), "ranking_score_topk: offsets [", off[0], ", ", off[rows], "] for ",
           cols.numel(), " items");
  for (std::int64_t b = 0; b < rows; ++b) {
    RF_CHECK(off[b] <= off[b + 1], "ranking_score_topk: offsets decrease at row ", b);
    for (std::int64_t j = off[b]; j < off[b + 1]; ++j) {
      RF_CHECK(col[j] >= 0 && col[j] < n_items, "ranking_score_topk: item ", col[j], " outside [0, ", n_items, ")");
      RF_CHECK(j == off[b] || col[j - 1] <= col[j], "ranking_score_topk: the items of row ", b, " are not sorted");
    }
  }
  const auto n = static_cast<std::size_t>(rows);
  TileSelection select{off, col, k, ids.data_as<std::int32_t>(), values.data_as<float>(),
                       std::vector<float>(n, -INFINITY), std::vector<std::int64_t>(n, 0),
                       std::vector<std::int64_t>(off, off + rows)};
  for_each_score_tile(users.data_as<float>(), rows, items.data_as<float>(), n_items, users.shape[1],
                      [&](const ScoreTile& t) { select(t); });
  for (std::int64_t b = 0; b < rows; ++b)
    pad_topk(select.filled[static_cast<std::size_t>(b)], k, select.ids + b * k, select.values + b * k);
}

// The sort-based reference: order every selectable entry, keep the first K.
void topk_sort_cpu(const Resources&, const TensorView& scores, TensorView ids, TensorView values) {
  const std::int64_t rows = scores.shape[0], items = scores.shape[1], k = ids.shape[1];
  for (std::int64_t b = 0; b < rows; ++b) {
    const float* row = scores.data_as<float>() + b * scores.strides[0];
    std::vector<std::int32_t> order;
    for (std::int64_t i = 0; i < items; ++i)
      if (row[i] > -INFINITY) order.push_back(static_cast<std::int32_t>(i));
    std::stable_sort(order.begin(), order.end(), [&](std::int32_t x, std::int32_t y) { return row[x] > row[y]; });
    for (std::int64_t p = 0; p < k; ++p) {
      const bool have = p < static_cast<std::int64_t>(order.size());
      ids.data_as<std::int32_t>()[b * k + p] = have ? order[static_cast<std::size_t>(p)] : -1;
      values.data_as<float>()[b * k + p] = have ? row[order[static_cast<std::size_t>(p)]] : -INFINITY;
    }
  }
}

void metrics_cpu(const Resources&, const MetricInputs& in, const MetricSpec& spec, TensorView sums, TensorView counts) {
  const std::int64_t users = in.topk.shape[0], k = in.topk.shape[1], width = spec.cutoffs * kMetricsPerK;
  const std::int64_t groups = counts.numel();
  const std::int64_t* off = in.rel_offsets.data_as<std::int64_t>();
  for (std::int64_t b = 0; b < users; ++b) {
    const std::int32_t g = in.groups.data_as<std::int32_t>()[b];
    RF_CHECK(g >= 0 && g < groups, "ranking_metrics: group ", g, " outside [0, ", groups, ")");
    user_metrics(in.topk.data_as<std::int32_t>() + b * k, in.rel_cols.data_as<std::int32_t>(),
                 spec.graded ? in.rel_gains.data_as<float>() : nullptr, off[b], off[b + 1],
                 in.self_info.numel() ? in.self_info.data_as<float>() : nullptr,
                 in.unit_emb.numel() ? in.unit_emb.data_as<float>() : nullptr,
                 in.unit_emb.numel() ? in.unit_emb.shape[1] : 0, spec,
                 reinterpret_cast<long long*>(sums.data_as<std::int64_t>() + g * width));
    counts.data_as<std::int64_t>()[g] += 1;
  }
}

void mark_items_cpu(const Resources&, const TensorView& topk, const MetricSpec& spec, TensorView marks) {
  const std::int64_t users = topk.shape[0], k = topk.shape[1], items = marks.shape[1];
  for (std::int64_t b = 0; b < users; ++b) {
    for (int t = 0; t < spec.cutoffs; ++t) {
      for (int p = 0; p < spec.k[t]; ++p) {
        const std::int32_t item = topk.data_as<std::int32_t>()[b * k + p];
        if (item >= 0 && item < items) marks.data_as<std::int32_t>()[t * items + item] = 1;
      }
    }
  }
}

void sampled_ranks_cpu(const Resources&, const TensorView& user_emb, const TensorView& item_emb, const TensorView& users,
                       const TensorView& candidates, TensorView ranks) {
  const std::int64_t n = users.numel(), c = candidates.shape[1], d = user_emb.shape[1];
  const float* U = user_emb.data_as<float>();
  const float* V = item_emb.data_as<float>();
  const auto score = [&](std::int32_t u, std::int32_t i) {
    float s = 0.0f;
    for (std::int64_t x = 0; x < d; ++x) s += U[u * d + x] * V[static_cast<std::int64_t>(i) * d + x];
    return s;
  };
#pragma omp parallel for schedule(static)
  for (std::int64_t p = 0; p < n; ++p) {
    const std::int32_t u = users.data_as<std::int32_t>()[p];
    const std::int32_t* cand = candidates.data_as<std::int32_t>() + p * c;
    const float positive = score(u, cand[0]);
    std::int32_t rank = 1;
    for (std::int64_t j = 1; j < c; ++j) {
      const float s = score(u, cand[j]);
      rank += s > positive || (s == positive && cand[j] < cand[0]);
    }
    ranks.data_as<std::int32_t>()[p] = rank;
  }
}

}  // namespace

RF_REGISTER_KERNEL(ranking_mask, kCPU, mask_cpu);
RF_REGISTER_KERNEL(ranking_topk, kCPU, topk_cpu);
RF_REGISTER_KERNEL(ranking_topk_sort, kCPU, topk_sort_cpu);
RF_REGISTER_KERNEL(ranking_score_topk, kCPU, score_topk_cpu);
RF_REGISTER_KERNEL(ranking_metrics, kCPU, metrics_cpu);
RF_REGISTER_KERNEL(ranking_mark_items, kCPU, mark_items_cpu);
RF_REGISTER_KERNEL(ranking_sampled_ranks, kCPU, sampled_ranks_cpu);

}  // namespace recforge::ranking
