// Dataset transformations applied during preparation, in this order:
// implicit threshold -> per-user time order -> de-duplication -> k-core.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "recforge/data/interactions.hpp"

namespace recforge::data {

// Keeps rows with rating >= threshold (implicit feedback from explicit ratings).
// Returns the number of rows removed. Needs ratings.
std::int64_t apply_rating_threshold(InteractionTable& table, double threshold);

// Stable order of rows by (user, timestamp, original position); without
// timestamps by (user, original position). The canonical order of a prepared dataset.
std::vector<std::int64_t> user_time_order(const InteractionTable& table, std::int32_t num_users);
void sort_by_user_time(InteractionTable& table, std::int32_t num_users);

// What to do with repeated (user, item) pairs. "first"/"last" follow the
// canonical order (time, then file order).
enum class Dedup { kKeepAll, kFirst, kLast, kMaxRating, kError };
Dedup parse_dedup(const std::string& name);
// Expects the canonical order; keeps it. Returns the number of rows removed.
// kError throws naming the first duplicated pair (in original ids).
std::int64_t deduplicate(InteractionTable& table, std::int32_t num_users, std::int32_t num_items, Dedup policy,
                         const IdMap& users, const IdMap& items);

struct KcoreReport {
  std::int64_t rows_removed = 0, users_removed = 0, items_removed = 0;
  int rounds = 0;
};
// Repeatedly removes users with fewer than `min_user` and items with fewer than
// `min_item` interactions until none is left, then compacts the id maps (dense
// ids stay in increasing order of original ids).
KcoreReport kcore_filter(InteractionTable& table, IdMap& users, IdMap& items, std::int64_t min_user,
                         std::int64_t min_item);

// Drops users/items that have no interaction in `tables` and renumbers them.
void drop_unused_ids(std::vector<InteractionTable*> tables, IdMap& users, IdMap& items);

}  // namespace recforge::data
