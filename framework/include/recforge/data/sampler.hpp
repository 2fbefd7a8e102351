// Samplers: mini-batch order and negative items, both counter-based (Philox) so
// that any rank, thread or resumed run draws exactly the same values.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "recforge/data/interactions.hpp"

namespace recforge::data {

// Mini-batches over rows [0, n). Each epoch has its own permutation, keyed by
// (seed, epoch); a global batch of `global_batch` rows is cut into `world`
// slices and rank r takes slice r. So the rows a rank trains on at (epoch, step)
// depend only on (seed, epoch, rank, world), every rank runs the same number of
// steps, and 1 rank with global batch 2B sees exactly the union of what 2 ranks
// with B each see. The last, short global batch is split as evenly as possible
// (or dropped with drop_last).
class BatchSchedule {
 public:
  BatchSchedule(std::int64_t rows, std::int64_t global_batch, int world, int rank, std::uint64_t seed,
                bool shuffle = true, bool drop_last = false);

  std::int64_t steps_per_epoch() const { return steps_; }
  std::int64_t rows() const { return rows_; }
  // Builds the permutation of `epoch` (cheap to call again for the same epoch).
  void start_epoch(std::int64_t epoch);
  // This rank's rows of step `step` of the current epoch.
  std::span<const std::uint32_t> batch(std::int64_t step) const;
  // All ranks' rows of a global step (for tests and for 1-rank emulation).
  std::span<const std::uint32_t> global_batch(std::int64_t step) const;

 private:
  std::int64_t rows_, global_batch_, steps_;
  int world_, rank_;
  std::uint64_t seed_;
  bool shuffle_;
  std::int64_t epoch_ = -1;
  std::vector<std::uint32_t> order_;
};

// Fisher-Yates permutation of [0, n) drawn from Philox stream (seed, stream).
std::vector<std::uint32_t> philox_permutation(std::int64_t n, std::uint64_t seed, std::uint64_t stream);

// Negative item sampling, uniform or by popularity^exponent (Walker alias table),
// optionally rejecting the user's known positives. Draw `index` of stream
// (seed, stream) is a pure function of its arguments.
class NegativeSampler {
 public:
  enum class Distribution { kUniform, kPopularity };
  static Distribution parse_distribution(const std::string& name);

  // `positives` (users x items CSR, sorted columns) may be null: then nothing is excluded.
  // `item_counts` is needed for kPopularity.
  NegativeSampler(std::int32_t num_items, Distribution distribution, const Csr* positives,
                  const std::vector<std::int64_t>& item_counts = {}, double exponent = 1.0);

  // The `index`-th negative for `user`. Tries up to kMaxAttempts candidates and
  // returns the last one even if positive (a user who rated almost everything).
  std::int32_t sample(std::int32_t user, std::uint64_t seed, std::uint64_t stream, std::uint64_t index) const;
  // Probability of item i under the (unrejected) distribution.
  double probability(std::int32_t item) const;
  std::int32_t num_items() const { return num_items_; }

  static constexpr int kMaxAttempts = 64;

 private:
  std::int32_t draw(std::uint64_t seed, std::uint64_t stream, std::uint64_t word) const;
  std::int32_t num_items_;
  Distribution distribution_;
  const Csr* positives_;
  std::vector<float> alias_probability_;
  std::vector<std::int32_t> alias_;
  std::vector<double> probability_;
};

// SASRec input: for each user the last `max_len` training items in time order,
// left-padded with -1. `table` must be in canonical order (by user, then time).
struct Sequences {
  std::int32_t max_len = 0;
  std::vector<std::int32_t> items;  // num_users x max_len
  std::vector<std::int32_t> length; // real (unpadded) length per user
  std::span<const std::int32_t> row(std::int32_t user) const {
    return {items.data() + static_cast<std::size_t>(user) * static_cast<std::size_t>(max_len),
            static_cast<std::size_t>(max_len)};
  }
};
Sequences build_sequences(const InteractionTable& table, std::int32_t num_users, std::int32_t max_len);

// LightGCN's normalised bipartite adjacency: an (U + I) x (U + I) CSR with
// A[u, U + i] = A[U + i, u] = 1 / sqrt(deg(u) * deg(i)) for every distinct
// training pair (u, i); nodes 0..U-1 are users, U..U+I-1 items.
Csr normalized_bipartite_adjacency(const InteractionTable& table, std::int32_t num_users, std::int32_t num_items);

}  // namespace recforge::data
