// InteractionTable row operations, IdMap lookups, and CSR construction.
#include "recforge/data/interactions.hpp"

#include <algorithm>
#include <charconv>

#include "recforge/core/error.hpp"

namespace recforge::data {

void InteractionTable::reserve(std::size_t n, bool ratings, bool timestamps) {
  user.reserve(n);
  item.reserve(n);
  if (ratings) rating.reserve(n);
  if (timestamps) timestamp.reserve(n);
}

void InteractionTable::push_row(const InteractionTable& other, std::int64_t i) {
  const auto k = static_cast<std::size_t>(i);
  user.push_back(other.user[k]);
  item.push_back(other.item[k]);
  if (other.has_ratings()) rating.push_back(other.rating[k]);
  if (other.has_timestamps()) timestamp.push_back(other.timestamp[k]);
}

namespace {
template <class T>
void keep_rows(std::vector<T>& values, const std::vector<std::uint8_t>& keep) {
  if (values.empty()) return;
  std::size_t out = 0;
  for (std::size_t i = 0; i < keep.size(); ++i)
    if (keep[i]) values[out++] = values[i];
  values.resize(out);
}

template <class T>
std::vector<T> gather(const std::vector<T>& values, const std::vector<std::int64_t>& order) {
  if (values.empty()) return {};
  std::vector<T> out(order.size());
#pragma omp parallel for schedule(static)
  for (std::size_t i = 0; i < order.size(); ++i) out[i] = values[static_cast<std::size_t>(order[i])];
  return out;
}
}  // namespace

void InteractionTable::filter(const std::vector<std::uint8_t>& keep) {
  RF_ASSERT(keep.size() == user.size());
  keep_rows(user, keep);
  keep_rows(item, keep);
  keep_rows(rating, keep);
  keep_rows(timestamp, keep);
}

InteractionTable InteractionTable::permuted(const std::vector<std::int64_t>& order) const {
  InteractionTable out;
  out.user = gather(user, order);
  out.item = gather(item, order);
  out.rating = gather(rating, order);
  out.timestamp = gather(timestamp, order);
  return out;
}

IdMap IdMap::integers(std::vector<std::int64_t> ids) {
  RF_CHECK_KIND(ErrorKind::kData, std::adjacent_find(ids.begin(), ids.end(), std::greater_equal<>()) == ids.end(),
                "integer id map must be strictly increasing");
  IdMap map;
  map.integer_ = true;
  map.int_ids_ = std::move(ids);
  return map;
}

IdMap IdMap::strings(std::vector<std::string> ids) {
  RF_CHECK_KIND(ErrorKind::kData, std::adjacent_find(ids.begin(), ids.end(), std::greater_equal<>()) == ids.end(),
                "string id map must be strictly increasing");
  IdMap map;
  map.integer_ = false;
  map.str_ids_ = std::move(ids);
  return map;
}

std::int64_t IdMap::size() const {
  return static_cast<std::int64_t>(integer_ ? int_ids_.size() : str_ids_.size());
}

std::string IdMap::text(std::int32_t dense) const {
  return integer_ ? std::to_string(integer_id(dense)) : string_id(dense);
}

std::optional<std::int32_t> IdMap::find(std::string_view original) const {
  if (integer_) {
    std::int64_t value = 0;
    auto [end, ec] = std::from_chars(original.data(), original.data() + original.size(), value);
    if (ec != std::errc() || end != original.data() + original.size()) return std::nullopt;
    auto it = std::lower_bound(int_ids_.begin(), int_ids_.end(), value);
    if (it == int_ids_.end() || *it != value) return std::nullopt;
    return static_cast<std::int32_t>(it - int_ids_.begin());
  }
  auto it = std::lower_bound(str_ids_.begin(), str_ids_.end(), original,
                             [](const std::string& a, std::string_view b) { return std::string_view(a) < b; });
  if (it == str_ids_.end() || *it != original) return std::nullopt;
  return static_cast<std::int32_t>(it - str_ids_.begin());
}

std::vector<std::int32_t> IdMap::compact(const std::vector<std::uint8_t>& keep) {
  RF_ASSERT(static_cast<std::int64_t>(keep.size()) == size());
  std::vector<std::int32_t> remap(keep.size(), -1);
  std::int32_t next = 0;
  for (std::size_t i = 0; i < keep.size(); ++i)
    if (keep[i]) remap[i] = next++;
  if (integer_) {
    keep_rows(int_ids_, keep);
  } else {
    std::size_t out = 0;
    for (std::size_t i = 0; i < keep.size(); ++i)
      if (keep[i]) str_ids_[out++] = std::move(str_ids_[i]);
    str_ids_.resize(out);
  }
  return remap;
}

namespace {

// Counting sort of rows by `key` (stable), then columns sorted within each row.
Csr build_csr(const std::vector<std::int32_t>& key, const std::vector<std::int32_t>& other,
              const std::vector<float>& values, std::int32_t rows) {
  Csr csr;
  csr.offsets.assign(static_cast<std::size_t>(rows) + 1, 0);
  for (std::int32_t k : key) {
    RF_ASSERT(k >= 0 && k < rows);
    ++csr.offsets[static_cast<std::size_t>(k) + 1];
  }
  for (std::size_t r = 0; r < static_cast<std::size_t>(rows); ++r) csr.offsets[r + 1] += csr.offsets[r];
  csr.col.resize(key.size());
  if (!values.empty()) csr.value.resize(key.size());
  std::vector<std::int64_t> cursor(csr.offsets.begin(), csr.offsets.end() - 1);
  for (std::size_t i = 0; i < key.size(); ++i) {
    const auto at = static_cast<std::size_t>(cursor[static_cast<std::size_t>(key[i])]++);
    csr.col[at] = other[i];
    if (!values.empty()) csr.value[at] = values[i];
  }
#pragma omp parallel for schedule(dynamic, 256)
  for (std::int32_t r = 0; r < rows; ++r) {
    const auto begin = static_cast<std::size_t>(csr.offsets[static_cast<std::size_t>(r)]);
    const auto end = static_cast<std::size_t>(csr.offsets[static_cast<std::size_t>(r) + 1]);
    if (csr.value.empty()) {
      std::sort(csr.col.begin() + static_cast<std::ptrdiff_t>(begin), csr.col.begin() + static_cast<std::ptrdiff_t>(end));
      continue;
    }
    std::vector<std::pair<std::int32_t, float>> row;
    row.reserve(end - begin);
    for (std::size_t i = begin; i < end; ++i) row.emplace_back(csr.col[i], csr.value[i]);
    std::stable_sort(row.begin(), row.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (std::size_t i = begin; i < end; ++i) {
      csr.col[i] = row[i - begin].first;
      csr.value[i] = row[i - begin].second;
    }
  }
  return csr;
}

}  // namespace

Csr user_item_csr(const InteractionTable& table, std::int32_t num_users) {
  return build_csr(table.user, table.item, table.rating, num_users);
}

Csr item_user_csr(const InteractionTable& table, std::int32_t num_items) {
  return build_csr(table.item, table.user, table.rating, num_items);
}

bool csr_contains(const Csr& csr, std::int32_t row, std::int32_t col) {
  const auto begin = csr.col.begin() + csr.offsets[static_cast<std::size_t>(row)];
  const auto end = csr.col.begin() + csr.offsets[static_cast<std::size_t>(row) + 1];
  return std::binary_search(begin, end, col);
}

}  // namespace recforge::data
