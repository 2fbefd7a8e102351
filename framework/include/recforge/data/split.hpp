// Train/validation/test splits. Every method is deterministic for a seed, gives
// documented exact sizes, and never lets a held-out (user, item) pair appear in
// training (duplicates of a held-out pair are removed from train and valid).
//
//   random           exactly round(test_ratio * n) rows to test and round(valid_ratio * n)
//                    to valid, chosen by a Philox-seeded partial Fisher-Yates shuffle
//   global_temporal  the latest round(test_ratio * n) rows by time to test, the
//                    round(valid_ratio * n) before them to valid (ties: canonical order)
//   user_temporal    per user, the latest round(test_ratio * n_u) rows to test and
//                    round(valid_ratio * n_u) before them to valid, keeping >= 1 in train
//   leave_one_out    per user with >= min_history rows: the latest row to test and, with
//                    validation_item, the one before it to valid
//   given            the source files are already split (adjacency train/test)
//   none             everything is training data
#pragma once

#include <cstdint>
#include <string>

#include "recforge/data/interactions.hpp"

namespace recforge::data {

enum class SplitMethod { kNone, kRandom, kGlobalTemporal, kUserTemporal, kLeaveOneOut, kGiven };
SplitMethod parse_split_method(const std::string& name);

struct SplitOptions {
  SplitMethod method = SplitMethod::kRandom;
  double test_ratio = 0.2;
  double valid_ratio = 0.0;
  bool validation_item = false;    // leave_one_out: also hold out a validation item
  std::int64_t min_history = 0;    // leave_one_out: users with fewer rows stay in train (0: 2, or 3 with validation)
  std::uint64_t seed = 0;
};

struct SplitReport {
  std::int64_t leaked_rows_removed = 0;  // duplicates of held-out pairs dropped from train/valid
};

// `all` must be in canonical order (sort_by_user_time). Fills dataset.train/valid/test.
SplitReport split_interactions(InteractionTable all, std::int32_t num_users, const SplitOptions& options,
                               Dataset& dataset);

// Removes from `train` (and `valid`) every (user, item) pair present in a later
// split. Returns the number of rows removed.
std::int64_t remove_leaked_pairs(InteractionTable& train, InteractionTable& valid, const InteractionTable& test,
                                 std::int32_t num_users);

// Drops valid/test rows whose user or item never occurs in train. Returns rows dropped.
std::int64_t drop_cold_heldout(Dataset& dataset);

}  // namespace recforge::data
