// Threshold, canonical ordering, de-duplication, k-core and id compaction.
#include "recforge/data/transforms.hpp"

#include <algorithm>
#include <numeric>

#include "recforge/core/error.hpp"

namespace recforge::data {

std::int64_t apply_rating_threshold(InteractionTable& table, double threshold) {
  RF_CHECK_KIND(ErrorKind::kConfig, table.has_ratings(),
                "data.implicit_threshold needs ratings, but the data has no rating column");
  // Ratings are floats read from decimal text: the threshold as the same float
  // (0.7f < 0.7 as doubles, so a rating of exactly 0.7 would be dropped).
  const auto bar = static_cast<float>(threshold);
  std::vector<std::uint8_t> keep(table.user.size());
  std::int64_t removed = 0;
  for (std::size_t i = 0; i < keep.size(); ++i) {
    keep[i] = table.rating[i] >= bar;
    removed += !keep[i];
  }
  if (removed) table.filter(keep);
  return removed;
}

namespace {

// True when rows are already grouped by increasing user and, with timestamps,
// in time order within each user: the common layout of downloaded files.
bool in_canonical_order(const InteractionTable& table) {
  const std::size_t n = table.user.size();
  const bool times = table.has_timestamps();
  bool ordered = true;
#pragma omp parallel for schedule(static) reduction(&& : ordered)
  for (std::size_t i = 1; i < n; ++i) {
    ordered = ordered && (table.user[i - 1] < table.user[i] ||
                          (table.user[i - 1] == table.user[i] && (!times || table.timestamp[i - 1] <= table.timestamp[i])));
  }
  return ordered;
}

}  // namespace

std::vector<std::int64_t> user_time_order(const InteractionTable& table, std::int32_t num_users) {
  // Counting sort by user keeps the original order within a user (stable) ...
  std::vector<std::int64_t> offsets(static_cast<std::size_t>(num_users) + 1, 0);
  for (std::int32_t u : table.user) ++offsets[static_cast<std::size_t>(u) + 1];
  std::partial_sum(offsets.begin(), offsets.end(), offsets.begin());
  std::vector<std::int64_t> order(table.user.size());
  std::vector<std::int64_t> cursor(offsets.begin(), offsets.end() - 1);
  for (std::size_t i = 0; i < table.user.size(); ++i) {
    order[static_cast<std::size_t>(cursor[static_cast<std::size_t>(table.user[i])]++)] = static_cast<std::int64_t>(i);
  }
  // ... then a stable sort by timestamp inside each user.
  if (table.has_timestamps()) {
    const auto& ts = table.timestamp;
#pragma omp parallel for schedule(dynamic, 512)
    for (std::int32_t u = 0; u < num_users; ++u) {
      auto begin = order.begin() + offsets[static_cast<std::size_t>(u)];
      auto end = order.begin() + offsets[static_cast<std::size_t>(u) + 1];
      std::stable_sort(begin, end, [&](std::int64_t a, std::int64_t b) {
        return ts[static_cast<std::size_t>(a)] < ts[static_cast<std::size_t>(b)];
      });
    }
  }
  return order;
}

void sort_by_user_time(InteractionTable& table, std::int32_t num_users) {
  if (in_canonical_order(table)) return;
  table = table.permuted(user_time_order(table, num_users));
}

Dedup parse_dedup(const std::string& name) {
  if (name == "keep_all") return Dedup::kKeepAll;
  if (name == "first") return Dedup::kFirst;
  if (name == "last") return Dedup::kLast;
  if (name == "max_rating") return Dedup::kMaxRating;
  if (name == "error") return Dedup::kError;
  RF_THROW(ErrorKind::kConfig, "unknown dedup policy '", name, "' (keep_all, first, last, max_rating, error)");
}

std::int64_t deduplicate(InteractionTable& table, std::int32_t num_users, std::int32_t num_items, Dedup policy,
                         const IdMap& users, const IdMap& items) {
  if (policy == Dedup::kKeepAll || table.empty()) return 0;
  RF_CHECK_KIND(ErrorKind::kConfig, policy != Dedup::kMaxRating || table.has_ratings(),
                "data.dedup: max_rating needs ratings, but the data has no rating column");
  // Rows of a user are contiguous (canonical order). For each user, remember the
  // row chosen so far for every item it touched.
  const std::size_t n = table.user.size();
  std::vector<std::uint8_t> keep(n, 1);
  std::vector<std::int64_t> chosen(static_cast<std::size_t>(num_items), -1);
  std::int64_t removed = 0;
  std::size_t begin = 0;
  while (begin < n) {
    std::size_t end = begin;
    while (end < n && table.user[end] == table.user[begin]) ++end;
    for (std::size_t i = begin; i < end; ++i) {
      auto& slot = chosen[static_cast<std::size_t>(table.item[i])];
      if (slot < 0) {
        slot = static_cast<std::int64_t>(i);
        continue;
      }
      if (policy == Dedup::kError) {
        RF_THROW(ErrorKind::kData, "duplicate interaction: user ", users.text(table.user[i]), " and item ",
                 items.text(table.item[i]), " occur more than once (data.dedup: error; use first, last, max_rating "
                 "or keep_all)");
      }
      ++removed;
      const auto previous = static_cast<std::size_t>(slot);
      const bool replace = policy == Dedup::kLast ||
                           (policy == Dedup::kMaxRating && table.rating[i] > table.rating[previous]);
      if (replace) {
        keep[previous] = 0;
        slot = static_cast<std::int64_t>(i);
      } else {
        keep[i] = 0;
      }
    }
    for (std::size_t i = begin; i < end; ++i) chosen[static_cast<std::size_t>(table.item[i])] = -1;
    begin = end;
  }
  (void)num_users;
  if (removed) table.filter(keep);
  return removed;
}

namespace {

void renumber(std::vector<std::int32_t>& ids, const std::vector<std::int32_t>& remap) {
#pragma omp parallel for schedule(static)
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = remap[static_cast<std::size_t>(ids[i])];
}

}  // namespace

KcoreReport kcore_filter(InteractionTable& table, IdMap& users, IdMap& items, std::int64_t min_user,
                         std::int64_t min_item) {
  KcoreReport report;
  if (min_user <= 1 && min_item <= 1) return report;
  const auto num_users = static_cast<std::size_t>(users.size());
  const auto num_items = static_cast<std::size_t>(items.size());
  std::vector<std::int64_t> user_count(num_users), item_count(num_items);
  const std::int64_t before = table.size();
  while (true) {
    std::fill(user_count.begin(), user_count.end(), 0);
    std::fill(item_count.begin(), item_count.end(), 0);
    for (std::size_t i = 0; i < table.user.size(); ++i) {
      ++user_count[static_cast<std::size_t>(table.user[i])];
      ++item_count[static_cast<std::size_t>(table.item[i])];
    }
    std::vector<std::uint8_t> keep(table.user.size());
    std::int64_t dropped = 0;
    for (std::size_t i = 0; i < keep.size(); ++i) {
      keep[i] = user_count[static_cast<std::size_t>(table.user[i])] >= min_user &&
                item_count[static_cast<std::size_t>(table.item[i])] >= min_item;
      dropped += !keep[i];
    }
    ++report.rounds;
    if (dropped == 0) break;
    table.filter(keep);
  }
  report.rows_removed = before - table.size();
  const std::int64_t users_before = users.size(), items_before = items.size();
  drop_unused_ids({&table}, users, items);
  report.users_removed = users_before - users.size();
  report.items_removed = items_before - items.size();
  return report;
}

void drop_unused_ids(std::vector<InteractionTable*> tables, IdMap& users, IdMap& items) {
  std::vector<std::uint8_t> used_users(static_cast<std::size_t>(users.size()), 0);
  std::vector<std::uint8_t> used_items(static_cast<std::size_t>(items.size()), 0);
  for (const InteractionTable* t : tables) {
    for (std::int32_t u : t->user) used_users[static_cast<std::size_t>(u)] = 1;
    for (std::int32_t i : t->item) used_items[static_cast<std::size_t>(i)] = 1;
  }
  const bool all_users = std::all_of(used_users.begin(), used_users.end(), [](auto v) { return v != 0; });
  const bool all_items = std::all_of(used_items.begin(), used_items.end(), [](auto v) { return v != 0; });
  if (!all_users) {
    const auto remap = users.compact(used_users);
    for (InteractionTable* t : tables) renumber(t->user, remap);
  }
  if (!all_items) {
    const auto remap = items.compact(used_items);
    for (InteractionTable* t : tables) renumber(t->item, remap);
  }
}

}  // namespace recforge::data
