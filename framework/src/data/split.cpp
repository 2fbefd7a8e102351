// Train/validation/test splits (see split.hpp for the exact size rules).
#include "recforge/data/split.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "recforge/core/error.hpp"
#include "recforge/core/philox.hpp"

namespace recforge::data {

SplitMethod parse_split_method(const std::string& name) {
  if (name == "none") return SplitMethod::kNone;
  if (name == "random") return SplitMethod::kRandom;
  if (name == "global_temporal") return SplitMethod::kGlobalTemporal;
  if (name == "user_temporal") return SplitMethod::kUserTemporal;
  if (name == "leave_one_out") return SplitMethod::kLeaveOneOut;
  if (name == "given") return SplitMethod::kGiven;
  RF_THROW(ErrorKind::kConfig, "unknown split method '", name,
           "' (none, random, global_temporal, user_temporal, leave_one_out, given)");
}

namespace {

enum Part : std::uint8_t { kTrain = 0, kValid = 1, kTest = 2 };

std::int64_t rounded(double ratio, std::int64_t n) { return static_cast<std::int64_t>(std::llround(ratio * static_cast<double>(n))); }

void require_timestamps(const InteractionTable& all, const char* method) {
  RF_CHECK_KIND(ErrorKind::kConfig, all.has_timestamps(), "split method ", method,
                " needs timestamps, but the data has none (use random, or a format with a timestamp column)");
}

std::vector<std::uint8_t> assign_random(const InteractionTable& all, const SplitOptions& o) {
  const std::int64_t n = all.size();
  const std::int64_t n_test = rounded(o.test_ratio, n), n_valid = rounded(o.valid_ratio, n);
  RF_CHECK_KIND(ErrorKind::kConfig, n_test + n_valid <= n, "test_ratio + valid_ratio exceed 1");
  // Partial Fisher-Yates: positions [0, n_test) go to test, [n_test, n_test + n_valid) to valid.
  std::vector<std::uint32_t> index(static_cast<std::size_t>(n));
  std::iota(index.begin(), index.end(), 0u);
  const std::uint64_t stream = rng_stream(RngPurpose::kSplit);
  for (std::int64_t k = 0; k < n_test + n_valid; ++k) {
    const std::uint64_t span = static_cast<std::uint64_t>(n - k);
    const std::uint64_t hi = philox_word(o.seed, stream, 2 * static_cast<std::uint64_t>(k));
    const std::uint64_t lo = philox_word(o.seed, stream, 2 * static_cast<std::uint64_t>(k) + 1);
    const std::uint64_t pick = (((hi << 32) | lo) % span);  // bias < span / 2^64
    std::swap(index[static_cast<std::size_t>(k)], index[static_cast<std::size_t>(k + static_cast<std::int64_t>(pick))]);
  }
  std::vector<std::uint8_t> part(static_cast<std::size_t>(n), kTrain);
  for (std::int64_t k = 0; k < n_test + n_valid; ++k) part[index[static_cast<std::size_t>(k)]] = k < n_test ? kTest : kValid;
  return part;
}

std::vector<std::uint8_t> assign_global_temporal(const InteractionTable& all, const SplitOptions& o) {
  require_timestamps(all, "global_temporal");
  const std::int64_t n = all.size();
  const std::int64_t n_test = rounded(o.test_ratio, n), n_valid = rounded(o.valid_ratio, n);
  RF_CHECK_KIND(ErrorKind::kConfig, n_test + n_valid <= n, "test_ratio + valid_ratio exceed 1");
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
    return all.timestamp[static_cast<std::size_t>(a)] < all.timestamp[static_cast<std::size_t>(b)];
  });
  std::vector<std::uint8_t> part(static_cast<std::size_t>(n), kTrain);
  for (std::int64_t k = 0; k < n_test + n_valid; ++k) {
    part[static_cast<std::size_t>(order[static_cast<std::size_t>(n - 1 - k)])] = k < n_test ? kTest : kValid;
  }
  return part;
}

// Calls fn(begin, end) for every user's contiguous row range.
template <class Fn>
void for_each_user(const InteractionTable& all, Fn&& fn) {
  std::size_t begin = 0;
  const std::size_t n = all.user.size();
  while (begin < n) {
    std::size_t end = begin;
    while (end < n && all.user[end] == all.user[begin]) ++end;
    fn(begin, end);
    begin = end;
  }
}

std::vector<std::uint8_t> assign_user_temporal(const InteractionTable& all, const SplitOptions& o) {
  require_timestamps(all, "user_temporal");
  std::vector<std::uint8_t> part(all.user.size(), kTrain);
  for_each_user(all, [&](std::size_t begin, std::size_t end) {
    const auto n_u = static_cast<std::int64_t>(end - begin);
    std::int64_t n_test = rounded(o.test_ratio, n_u), n_valid = rounded(o.valid_ratio, n_u);
    // Keep at least one training row per user.
    while (n_test + n_valid > n_u - 1 && n_valid > 0) --n_valid;
    while (n_test + n_valid > n_u - 1 && n_test > 0) --n_test;
    for (std::int64_t k = 0; k < n_test + n_valid; ++k) part[end - 1 - static_cast<std::size_t>(k)] = k < n_test ? kTest : kValid;
  });
  return part;
}

std::vector<std::uint8_t> assign_leave_one_out(const InteractionTable& all, const SplitOptions& o) {
  require_timestamps(all, "leave_one_out");
  // (prepare checks a configured one; a direct caller's too small one is raised.)
  const std::int64_t min_history = std::max(o.min_history, std::int64_t{o.validation_item ? 3 : 2});
  std::vector<std::uint8_t> part(all.user.size(), kTrain);
  for_each_user(all, [&](std::size_t begin, std::size_t end) {
    if (static_cast<std::int64_t>(end - begin) < min_history) return;
    part[end - 1] = kTest;
    if (o.validation_item) part[end - 2] = kValid;
  });
  return part;
}

}  // namespace

std::int64_t remove_leaked_pairs(InteractionTable& train, InteractionTable& valid, const InteractionTable& test,
                                 std::int32_t num_users) {
  const Csr test_pairs = user_item_csr(test, num_users);
  std::int64_t removed = 0;
  const auto drop_seen = [&](InteractionTable& table, const Csr& held) {
    std::vector<std::uint8_t> keep(table.user.size(), 1);
    std::int64_t count = 0;
    for (std::size_t i = 0; i < keep.size(); ++i) {
      if (held.rows() > 0 && csr_contains(held, table.user[i], table.item[i])) {
        keep[i] = 0;
        ++count;
      }
    }
    if (count) table.filter(keep);
    return count;
  };
  removed += drop_seen(valid, test_pairs);
  removed += drop_seen(train, test_pairs);
  removed += drop_seen(train, user_item_csr(valid, num_users));
  return removed;
}

std::int64_t drop_cold_heldout(Dataset& dataset) {
  std::vector<std::uint8_t> user_seen(static_cast<std::size_t>(dataset.num_users()), 0);
  std::vector<std::uint8_t> item_seen(static_cast<std::size_t>(dataset.num_items()), 0);
  for (std::int32_t u : dataset.train.user) user_seen[static_cast<std::size_t>(u)] = 1;
  for (std::int32_t i : dataset.train.item) item_seen[static_cast<std::size_t>(i)] = 1;
  std::int64_t dropped = 0;
  for (InteractionTable* table : {&dataset.valid, &dataset.test}) {
    std::vector<std::uint8_t> keep(table->user.size());
    std::int64_t count = 0;
    for (std::size_t r = 0; r < keep.size(); ++r) {
      keep[r] = user_seen[static_cast<std::size_t>(table->user[r])] && item_seen[static_cast<std::size_t>(table->item[r])];
      count += !keep[r];
    }
    if (count) table->filter(keep);
    dropped += count;
  }
  return dropped;
}

SplitReport split_interactions(InteractionTable all, std::int32_t num_users, const SplitOptions& options,
                               Dataset& dataset) {
  const bool by_ratio = options.method == SplitMethod::kRandom || options.method == SplitMethod::kGlobalTemporal ||
                        options.method == SplitMethod::kUserTemporal;
  RF_CHECK_KIND(ErrorKind::kConfig, !by_ratio || (options.test_ratio >= 0 && options.valid_ratio >= 0 &&
                                                  options.test_ratio + options.valid_ratio < 1),
                "split ratios must be >= 0 and sum to less than 1 (test_ratio ", options.test_ratio,
                ", valid_ratio ", options.valid_ratio, ")");
  SplitReport report;
  std::vector<std::uint8_t> part;
  switch (options.method) {
    case SplitMethod::kNone:
      dataset.train = std::move(all);
      return report;
    case SplitMethod::kGiven:
      RF_THROW(ErrorKind::kConfig, "split method 'given' needs a pre-split source (data.test_path)");
    case SplitMethod::kRandom: part = assign_random(all, options); break;
    case SplitMethod::kGlobalTemporal: part = assign_global_temporal(all, options); break;
    case SplitMethod::kUserTemporal: part = assign_user_temporal(all, options); break;
    case SplitMethod::kLeaveOneOut: part = assign_leave_one_out(all, options); break;
  }
  InteractionTable* outputs[3] = {&dataset.train, &dataset.valid, &dataset.test};
  for (InteractionTable* t : outputs) *t = InteractionTable{};
  std::int64_t counts[3] = {0, 0, 0};
  for (std::uint8_t p : part) ++counts[p];
  for (int p = 0; p < 3; ++p) outputs[p]->reserve(static_cast<std::size_t>(counts[p]), all.has_ratings(), all.has_timestamps());
  for (std::size_t i = 0; i < part.size(); ++i) outputs[part[i]]->push_row(all, static_cast<std::int64_t>(i));
  report.leaked_rows_removed = remove_leaked_pairs(dataset.train, dataset.valid, dataset.test, num_users);
  return report;
}

}  // namespace recforge::data
