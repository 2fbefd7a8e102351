// The in-memory form of a dataset: user-item interactions as columns (struct of
// arrays), id maps back to the user's original ids, and the train/valid/test split.
//
//   InteractionTable  user[i], item[i] (dense ids), rating[i], timestamp[i]
//   IdMap             dense id <-> original id (integer or string)
//   Dataset           id maps + train/valid/test tables + provenance (+ item features)
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace recforge::data {

// Interactions as columns. `rating` and `timestamp` are either empty (the
// source had no such column) or as long as `user`.
struct InteractionTable {
  std::vector<std::int32_t> user;
  std::vector<std::int32_t> item;
  std::vector<float> rating;
  std::vector<std::int64_t> timestamp;

  std::int64_t size() const { return static_cast<std::int64_t>(user.size()); }
  bool empty() const { return user.empty(); }
  bool has_ratings() const { return !rating.empty(); }
  bool has_timestamps() const { return !timestamp.empty(); }
  void reserve(std::size_t n, bool ratings, bool timestamps);
  // Appends row `i` of `other`.
  void push_row(const InteractionTable& other, std::int64_t i);
  // Keeps the rows whose `keep[i]` is non-zero, in order.
  void filter(const std::vector<std::uint8_t>& keep);
  // Rows reordered: new row i is old row order[i].
  InteractionTable permuted(const std::vector<std::int64_t>& order) const;
};

// Original ids of users or items, indexed by dense id. Integer ids are kept as
// integers (MovieLens, Gowalla); anything else as strings. Dense ids are
// assigned in increasing order of the original ids, so lookups are binary searches.
class IdMap {
 public:
  // `ids` must be strictly increasing (numerically / bytewise); checked.
  static IdMap integers(std::vector<std::int64_t> ids);
  static IdMap strings(std::vector<std::string> ids);

  bool is_integer() const { return integer_; }
  std::int64_t size() const;
  std::int64_t integer_id(std::int32_t dense) const { return int_ids_[static_cast<std::size_t>(dense)]; }
  const std::string& string_id(std::int32_t dense) const { return str_ids_[static_cast<std::size_t>(dense)]; }
  // The original id as text (for messages, JSON and the server).
  std::string text(std::int32_t dense) const;
  // Dense id of an original id given as text, if known.
  std::optional<std::int32_t> find(std::string_view original) const;
  const std::vector<std::int64_t>& integer_ids() const { return int_ids_; }
  const std::vector<std::string>& string_ids() const { return str_ids_; }
  // Keeps the dense ids whose keep[d] is non-zero; returns old -> new (-1 for dropped).
  std::vector<std::int32_t> compact(const std::vector<std::uint8_t>& keep);

 private:
  bool integer_ = true;
  std::vector<std::int64_t> int_ids_;
  std::vector<std::string> str_ids_;
};

struct ItemFeatures;  // item_features.hpp

struct Dataset {
  IdMap users, items;
  InteractionTable train, valid, test;
  std::string name;          // e.g. "ml-latest-small/ratings.csv"
  std::string fingerprint;   // hex digest of the input bytes and the preparation options
  // Side features of the items (data.item_features), read on every run (not
  // cached); null without them.
  std::shared_ptr<const ItemFeatures> item_features;

  std::int32_t num_users() const { return static_cast<std::int32_t>(users.size()); }
  std::int32_t num_items() const { return static_cast<std::int32_t>(items.size()); }
  std::int64_t num_interactions() const { return train.size() + valid.size() + test.size(); }
};

// Compressed sparse rows: row r's columns are col[offsets[r] .. offsets[r+1]).
struct Csr {
  std::vector<std::int64_t> offsets;  // rows + 1
  std::vector<std::int32_t> col;
  std::vector<float> value;           // empty for a pattern-only matrix

  std::int32_t rows() const { return static_cast<std::int32_t>(offsets.size()) - 1; }
  std::int64_t nnz() const { return static_cast<std::int64_t>(col.size()); }
  std::int64_t row_size(std::int32_t r) const { return offsets[r + 1] - offsets[r]; }
};

// users x items matrix of `table` (values = ratings when present, else empty),
// columns sorted within each row. Duplicated (user, item) pairs stay duplicated.
Csr user_item_csr(const InteractionTable& table, std::int32_t num_users);
// The transpose: items x users.
Csr item_user_csr(const InteractionTable& table, std::int32_t num_items);
// True when `item` is among row `user`'s columns (columns sorted).
bool csr_contains(const Csr& csr, std::int32_t row, std::int32_t col);

}  // namespace recforge::data
