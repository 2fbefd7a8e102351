// Batch schedules, negative sampling (alias method), sequences and graph normalisation.
#include "recforge/data/sampler.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "recforge/core/error.hpp"
#include "recforge/core/philox.hpp"

namespace recforge::data {

std::vector<std::uint32_t> philox_permutation(std::int64_t n, std::uint64_t seed, std::uint64_t stream) {
  RF_CHECK(n >= 0 && n <= static_cast<std::int64_t>(UINT32_MAX), "permutation of ", n, " rows");
  std::vector<std::uint32_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0u);
  for (std::int64_t i = n - 1; i > 0; --i) {
    const std::uint32_t j = philox_below(seed, stream, static_cast<std::uint64_t>(i), static_cast<std::uint32_t>(i + 1));
    std::swap(order[static_cast<std::size_t>(i)], order[j]);
  }
  return order;
}

BatchSchedule::BatchSchedule(std::int64_t rows, std::int64_t global_batch, int world, int rank, std::uint64_t seed,
                             bool shuffle, bool drop_last)
    : rows_(rows), global_batch_(global_batch), world_(world), rank_(rank), seed_(seed), shuffle_(shuffle) {
  RF_CHECK(global_batch >= world, "global batch size ", global_batch, " is smaller than the number of ranks ", world);
  RF_CHECK(rank >= 0 && rank < world, "rank ", rank, " of ", world);
  steps_ = drop_last ? rows / global_batch : (rows + global_batch - 1) / global_batch;
}

void BatchSchedule::start_epoch(std::int64_t epoch) {
  if (epoch == epoch_) return;
  epoch_ = epoch;
  if (shuffle_) {
    order_ = philox_permutation(rows_, seed_, rng_stream(RngPurpose::kShuffle, static_cast<std::uint32_t>(epoch)));
  } else {
    order_.resize(static_cast<std::size_t>(rows_));
    std::iota(order_.begin(), order_.end(), 0u);
  }
}

std::span<const std::uint32_t> BatchSchedule::global_batch(std::int64_t step) const {
  RF_CHECK(epoch_ >= 0, "BatchSchedule: call start_epoch() first");
  RF_CHECK(step >= 0 && step < steps_, "step ", step, " outside [0, ", steps_, ")");
  const std::int64_t begin = step * global_batch_;
  const std::int64_t end = std::min(rows_, begin + global_batch_);
  return {order_.data() + begin, static_cast<std::size_t>(end - begin)};
}

std::span<const std::uint32_t> BatchSchedule::batch(std::int64_t step) const {
  const auto global = global_batch(step);
  const auto n = static_cast<std::int64_t>(global.size());
  // Rank r's slice of n rows: sizes differ by at most one (equal for full batches).
  const std::int64_t base = n / world_, extra = n % world_;
  const std::int64_t begin = rank_ * base + std::min<std::int64_t>(rank_, extra);
  const std::int64_t size = base + (rank_ < extra ? 1 : 0);
  return global.subspan(static_cast<std::size_t>(begin), static_cast<std::size_t>(size));
}

NegativeSampler::Distribution NegativeSampler::parse_distribution(const std::string& name) {
  if (name == "uniform") return Distribution::kUniform;
  if (name == "popularity") return Distribution::kPopularity;
  RF_THROW(ErrorKind::kConfig, "unknown negative sampling distribution '", name, "' (uniform, popularity)");
}

NegativeSampler::NegativeSampler(std::int32_t num_items, Distribution distribution, const Csr* positives,
                                 const std::vector<std::int64_t>& item_counts, double exponent)
    : num_items_(num_items), distribution_(distribution), positives_(positives) {
  RF_CHECK(num_items > 0, "negative sampling needs at least one item");
  if (distribution_ == Distribution::kUniform) return;
  RF_CHECK(static_cast<std::int32_t>(item_counts.size()) == num_items, "popularity sampling needs ", num_items,
           " item counts, got ", item_counts.size());
  // Walker's alias table (Vose's construction) over weights count^exponent.
  probability_.resize(static_cast<std::size_t>(num_items));
  double total = 0;
  for (std::size_t i = 0; i < probability_.size(); ++i) {
    probability_[i] = std::pow(static_cast<double>(std::max<std::int64_t>(item_counts[i], 0)), exponent);
    total += probability_[i];
  }
  RF_CHECK(total > 0, "popularity sampling: every item has count 0");
  for (double& p : probability_) p /= total;
  const auto n = static_cast<std::size_t>(num_items);
  alias_probability_.resize(n);
  alias_.assign(n, 0);
  std::vector<double> scaled(n);
  std::vector<std::int32_t> small, large;
  for (std::size_t i = 0; i < n; ++i) {
    scaled[i] = probability_[i] * static_cast<double>(n);
    (scaled[i] < 1.0 ? small : large).push_back(static_cast<std::int32_t>(i));
  }
  while (!small.empty() && !large.empty()) {
    const std::int32_t s = small.back(), l = large.back();
    small.pop_back();
    alias_probability_[static_cast<std::size_t>(s)] = static_cast<float>(scaled[static_cast<std::size_t>(s)]);
    alias_[static_cast<std::size_t>(s)] = l;
    scaled[static_cast<std::size_t>(l)] -= 1.0 - scaled[static_cast<std::size_t>(s)];
    if (scaled[static_cast<std::size_t>(l)] < 1.0) {
      large.pop_back();
      small.push_back(l);
    }
  }
  for (std::int32_t i : large) alias_probability_[static_cast<std::size_t>(i)] = 1.0f;
  for (std::int32_t i : small) alias_probability_[static_cast<std::size_t>(i)] = 1.0f;
}

double NegativeSampler::probability(std::int32_t item) const {
  if (distribution_ == Distribution::kUniform) return 1.0 / num_items_;
  return probability_[static_cast<std::size_t>(item)];
}

std::int32_t NegativeSampler::draw(std::uint64_t seed, std::uint64_t stream, std::uint64_t word) const {
  const auto column = static_cast<std::int32_t>(
      philox_below(seed, stream, 2 * word, static_cast<std::uint32_t>(num_items_)));
  if (distribution_ == Distribution::kUniform) return column;
  const float coin = philox_uniform(seed, stream, 2 * word + 1);
  return coin < alias_probability_[static_cast<std::size_t>(column)] ? column : alias_[static_cast<std::size_t>(column)];
}

std::int32_t NegativeSampler::sample(std::int32_t user, std::uint64_t seed, std::uint64_t stream,
                                     std::uint64_t index) const {
  std::int32_t candidate = 0;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    candidate = draw(seed, stream, index * kMaxAttempts + static_cast<std::uint64_t>(attempt));
    if (positives_ == nullptr || !csr_contains(*positives_, user, candidate)) return candidate;
  }
  return candidate;
}

Sequences build_sequences(const InteractionTable& table, std::int32_t num_users, std::int32_t max_len) {
  RF_CHECK(max_len > 0, "sequence length must be > 0, got ", max_len);
  Sequences seq;
  seq.max_len = max_len;
  seq.items.assign(static_cast<std::size_t>(num_users) * static_cast<std::size_t>(max_len), -1);
  seq.length.assign(static_cast<std::size_t>(num_users), 0);
  std::size_t begin = 0;
  const std::size_t n = table.user.size();
  while (begin < n) {
    std::size_t end = begin;
    const std::int32_t user = table.user[begin];
    while (end < n && table.user[end] == user) ++end;
    RF_CHECK(end == n || table.user[end] > user, "build_sequences needs rows grouped by user in increasing order");
    const std::size_t take = std::min<std::size_t>(end - begin, static_cast<std::size_t>(max_len));
    std::int32_t* row = seq.items.data() + static_cast<std::size_t>(user) * static_cast<std::size_t>(max_len);
    std::copy(table.item.begin() + static_cast<std::ptrdiff_t>(end - take), table.item.begin() + static_cast<std::ptrdiff_t>(end),
              row + (static_cast<std::size_t>(max_len) - take));
    seq.length[static_cast<std::size_t>(user)] = static_cast<std::int32_t>(take);
    begin = end;
  }
  return seq;
}

Csr normalized_bipartite_adjacency(const InteractionTable& table, std::int32_t num_users, std::int32_t num_items) {
  // Distinct pairs, users' rows sorted.
  Csr by_user = user_item_csr(InteractionTable{table.user, table.item, {}, {}}, num_users);
  std::vector<std::int64_t> user_degree(static_cast<std::size_t>(num_users), 0);
  std::vector<std::int64_t> item_degree(static_cast<std::size_t>(num_items), 0);
  std::vector<std::uint8_t> first(by_user.col.size(), 0);
  for (std::int32_t u = 0; u < num_users; ++u) {
    for (std::int64_t k = by_user.offsets[static_cast<std::size_t>(u)]; k < by_user.offsets[static_cast<std::size_t>(u) + 1]; ++k) {
      if (k > by_user.offsets[static_cast<std::size_t>(u)] && by_user.col[static_cast<std::size_t>(k)] == by_user.col[static_cast<std::size_t>(k) - 1]) continue;
      first[static_cast<std::size_t>(k)] = 1;
      ++user_degree[static_cast<std::size_t>(u)];
      ++item_degree[static_cast<std::size_t>(by_user.col[static_cast<std::size_t>(k)])];
    }
  }
  const std::int32_t nodes = num_users + num_items;
  InteractionTable edges;
  for (std::int32_t u = 0; u < num_users; ++u) {
    for (std::int64_t k = by_user.offsets[static_cast<std::size_t>(u)]; k < by_user.offsets[static_cast<std::size_t>(u) + 1]; ++k) {
      if (!first[static_cast<std::size_t>(k)]) continue;
      const std::int32_t i = by_user.col[static_cast<std::size_t>(k)];
      const float w = static_cast<float>(1.0 / std::sqrt(static_cast<double>(user_degree[static_cast<std::size_t>(u)]) *
                                                          static_cast<double>(item_degree[static_cast<std::size_t>(i)])));
      edges.user.push_back(u);
      edges.item.push_back(num_users + i);
      edges.rating.push_back(w);
      edges.user.push_back(num_users + i);
      edges.item.push_back(u);
      edges.rating.push_back(w);
    }
  }
  return user_item_csr(edges, nodes);
}

}  // namespace recforge::data
