// Per-user ranking metrics from one ranked list, compiled for the CPU and CUDA
// (the same code on both; see README.md for the definitions).
//
// Sums over users are kept in fixed point (value x 2^32, rounded, as 64-bit
// integers). Integer addition is associative, so a sum does not depend on the
// order users are visited: not on the number of ranks, not on the evaluation
// batch size, not on GPU atomics. Per-user values are <= 20 (novelty is in
// bits), so 2^32 x 20 x 10^7 users stays below 2^63.
#pragma once

#include <cmath>
#include <cstdint>

#include "recforge/core/host_device.hpp"

namespace recforge::ranking {

inline constexpr int kMaxCutoffs = 8;
// Values per cut-off K, in this order. The last two are plain counts (not
// fixed point) of the users novelty and diversity average over: a list needs
// an item for novelty and two for diversity (a user who has seen every item
// gets an empty list, which has neither).
enum MetricIndex : int {
  kHit = 0, kPrecision, kRecall, kNdcg, kMap, kMrr, kNovelty, kDiversity, kNoveltyLists, kDiversityLists, kMetricsPerK
};

struct MetricSpec {
  int cutoffs = 0;
  int k[kMaxCutoffs] = {};
  bool recall_min_k = false;  // recall denominator min(|R|, K) instead of |R|
  bool graded = false;        // NDCG gains 2^rating - 1 instead of 1
};

inline constexpr double kFixedScale = 4294967296.0;  // 2^32

RF_HOST_DEVICE inline long long to_fixed(double value) {
  return static_cast<long long>(value * kFixedScale + 0.5);  // values are >= 0
}

// Position p (0-based) discount of DCG: 1 / log2(p + 2).
RF_HOST_DEVICE inline double discount(int position) { return 1.0 / log2(static_cast<double>(position) + 2.0); }

// Index of `item` in the sorted cols[begin, end), or -1.
RF_HOST_DEVICE inline std::int64_t find_sorted(const std::int32_t* cols, std::int64_t begin, std::int64_t end,
                                               std::int32_t item) {
  while (begin < end) {
    const std::int64_t mid = begin + (end - begin) / 2;
    if (cols[mid] < item) {
      begin = mid + 1;
    } else if (cols[mid] > item) {
      end = mid;
    } else {
      return mid;
    }
  }
  return -1;
}

// Ideal DCG at cut-off k: the user's best min(|R|, k) gains at the top.
RF_HOST_DEVICE inline double ideal_dcg(const float* gains, std::int64_t begin, std::int64_t end, int k, bool graded) {
  const std::int64_t relevant = end - begin;
  const int n = relevant < k ? static_cast<int>(relevant) : k;
  double idcg = 0;
  if (!graded) {
    for (int p = 0; p < n; ++p) idcg += discount(p);
    return idcg;
  }
  // Selection of the n largest gains, largest first (n is small).
  double previous = INFINITY;
  std::int64_t previous_index = -1;
  for (int p = 0; p < n; ++p) {
    double best = -1;
    std::int64_t best_index = -1;
    for (std::int64_t j = begin; j < end; ++j) {
      const double g = exp2(static_cast<double>(gains[j])) - 1.0;
      // The next largest after (previous, previous_index), ties broken by index.
      const bool after = g < previous || (g == previous && j > previous_index);
      if (after && (g > best || (g == best && j < best_index))) {
        best = g;
        best_index = j;
      }
    }
    idcg += best * discount(p);
    previous = best;
    previous_index = best_index;
  }
  return idcg;
}

// Adds one user's metric values (fixed point) to out[t * kMetricsPerK + m].
// topk: the ranked item ids (-1 pads rows shorter than the largest cut-off);
// relevant items cols[begin, end) sorted, with gains (ratings) when graded;
// self_info: -log2 popularity per item (nullptr: novelty 0); unit_emb: L2-normalised
// item embeddings (I x d; nullptr: diversity 0).
RF_HOST_DEVICE inline void user_metrics(const std::int32_t* topk, const std::int32_t* cols, const float* gains,
                                        std::int64_t begin, std::int64_t end, const float* self_info,
                                        const float* unit_emb, std::int64_t d, const MetricSpec& spec, long long* out) {
  const std::int64_t relevant = end - begin;
  for (int t = 0; t < spec.cutoffs; ++t) {
    const int k = spec.k[t];
    int hits = 0, first = -1, listed = 0;
    double dcg = 0, precision_sum = 0, novelty = 0;
    for (int p = 0; p < k; ++p) {
      const std::int32_t item = topk[p];
      if (item < 0) break;
      ++listed;
      if (self_info) novelty += self_info[item];
      const std::int64_t at = find_sorted(cols, begin, end, item);
      if (at < 0) continue;
      ++hits;
      if (first < 0) first = p;
      dcg += (spec.graded ? exp2(static_cast<double>(gains[at])) - 1.0 : 1.0) * discount(p);
      precision_sum += static_cast<double>(hits) / static_cast<double>(p + 1);
    }
    const double min_rk = static_cast<double>(relevant < k ? relevant : k);
    const double idcg = ideal_dcg(gains, begin, end, k, spec.graded);
    double diversity = 0;
    if (unit_emb && listed > 1) {
      double pairs = 0, dissimilarity = 0;
      for (int a = 0; a < listed; ++a) {
        for (int b = a + 1; b < listed; ++b) {
          double cosine = 0;
          for (std::int64_t c = 0; c < d; ++c) {
            cosine += static_cast<double>(unit_emb[static_cast<std::int64_t>(topk[a]) * d + c]) *
                      unit_emb[static_cast<std::int64_t>(topk[b]) * d + c];
          }
          dissimilarity += 1.0 - cosine;
          pairs += 1;
        }
      }
      diversity = dissimilarity / pairs;
      if (diversity < 0) diversity = 0;  // rounding of identical vectors
    }
    long long* o = out + t * kMetricsPerK;
    o[kHit] += to_fixed(hits > 0 ? 1.0 : 0.0);
    o[kPrecision] += to_fixed(static_cast<double>(hits) / k);
    o[kRecall] += to_fixed(relevant > 0 ? hits / (spec.recall_min_k ? min_rk : static_cast<double>(relevant)) : 0.0);
    o[kNdcg] += to_fixed(idcg > 0 ? dcg / idcg : 0.0);
    o[kMap] += to_fixed(min_rk > 0 ? precision_sum / min_rk : 0.0);
    o[kMrr] += to_fixed(first >= 0 ? 1.0 / (first + 1) : 0.0);
    o[kNovelty] += to_fixed(listed > 0 ? novelty / listed : 0.0);
    o[kDiversity] += to_fixed(diversity);
    o[kNoveltyLists] += listed > 0 ? 1 : 0;
    o[kDiversityLists] += listed > 1 ? 1 : 0;
  }
}

}  // namespace recforge::ranking
