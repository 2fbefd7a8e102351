// The blocks of a full ranking (see block_plan.hpp). Blocks are consecutive
// runs of the users, so every block's items are one run of a single
// concatenation in user order; only the offsets restart at 0 per block.
#include "block_plan.hpp"

#include <algorithm>

namespace recforge::ranking {

Tensor to_device(const Tensor& host, const Resources& res) {
  return res.device().is_cpu() ? host : host.to(res.device(), res.stream());
}

namespace {

// Items of user row `u`, without a repeat of the previous item when `distinct`.
template <class Visit>
void for_each_item(const data::Csr& m, std::int32_t u, bool distinct, Visit&& visit) {
  const auto first = m.offsets[static_cast<std::size_t>(u)], last = m.offsets[static_cast<std::size_t>(u) + 1];
  for (std::int64_t j = first; j < last; ++j) {
    if (distinct && j > first && m.col[static_cast<std::size_t>(j)] == m.col[static_cast<std::size_t>(j) - 1]) continue;
    visit(j);
  }
}

// One matrix's rows of `users` as host tensors, filled in place: items
// concatenated, offsets restarted per block.
struct Rows {
  Tensor offsets;                     // (users + blocks) i64: per block, its size + 1 entries from 0
  Tensor items;                       // (n) i32
  Tensor values;                      // (n) f32 with `values`, else (0)
  std::vector<std::int64_t> start;    // per block and one past the last: first item
};

Rows rows_of(const data::Csr& m, const std::vector<std::int32_t>& users, std::int64_t block_users, bool distinct,
             bool values) {
  const auto n = static_cast<std::int64_t>(users.size());
  std::vector<std::int64_t> end(static_cast<std::size_t>(n) + 1, 0);  // end[i + 1]: items of users [0, i]
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i) {
    std::int64_t count = 0;
    for_each_item(m, users[static_cast<std::size_t>(i)], distinct, [&](std::int64_t) { ++count; });
    end[static_cast<std::size_t>(i) + 1] = count;
  }
  for (std::int64_t i = 0; i < n; ++i) end[static_cast<std::size_t>(i) + 1] += end[static_cast<std::size_t>(i)];
  const std::int64_t blocks = (n + block_users - 1) / block_users;
  Rows r{Tensor::empty({n + blocks}, DType::kI64), Tensor::empty({end.back()}, DType::kI32),
         Tensor::empty({values ? end.back() : 0}, DType::kF32), {}};
  auto* items = r.items.data_as<std::int32_t>();
  auto* gains = r.values.data_as<float>();
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i) {
    std::int64_t at = end[static_cast<std::size_t>(i)];
    for_each_item(m, users[static_cast<std::size_t>(i)], distinct, [&](std::int64_t j) {
      items[at] = m.col[static_cast<std::size_t>(j)];
      if (values) gains[at] = m.value[static_cast<std::size_t>(j)];
      ++at;
    });
  }
  auto* offsets = r.offsets.data_as<std::int64_t>();
  for (std::int64_t begin = 0, k = 0; begin < n; begin += block_users, ++k) {
    const std::int64_t stop = std::min(n, begin + block_users);
    r.start.push_back(end[static_cast<std::size_t>(begin)]);
    for (std::int64_t i = begin; i <= stop; ++i) {
      offsets[i + k] = end[static_cast<std::size_t>(i)] - end[static_cast<std::size_t>(begin)];
    }
  }
  r.start.push_back(end.back());
  return r;
}

}  // namespace

BlockPlan::BlockPlan(const data::Csr& train, const data::Csr& relevant, const std::vector<std::int32_t>& group,
                     std::vector<std::int32_t> users, std::int64_t block_users, bool graded, const Resources& res)
    : block_users_(block_users), users_(std::move(users)) {
  RF_CHECK(block_users_ >= 1, "ranking: blocks of ", block_users_, " users");
  RF_CHECK(!graded || relevant.value.size() == relevant.col.size(), "ranking: graded relevance needs held-out ratings");
  Rows t = rows_of(train, users_, block_users_, /*distinct=*/false, /*values=*/false);
  Rows r = rows_of(relevant, users_, block_users_, /*distinct=*/true, graded);
  train_start_ = std::move(t.start);
  relevant_start_ = std::move(r.start);
  std::vector<std::int32_t> groups(users_.size());
  for (std::size_t i = 0; i < users_.size(); ++i) groups[i] = group[static_cast<std::size_t>(users_[i])];
  users_t_ = to_device(Tensor::from_vector(users_), res);
  train_offsets_ = to_device(t.offsets, res);
  train_items_ = to_device(t.items, res);
  relevant_offsets_ = to_device(r.offsets, res);
  relevant_items_ = to_device(r.items, res);
  relevant_gains_ = to_device(r.values, res);
  groups_ = to_device(Tensor::from_vector(groups), res);
}
BlockViews BlockPlan::block(std::int64_t k) const {
  RF_CHECK(0 <= k && k < blocks(), "ranking: block ", k, " of ", blocks());
  BlockViews v;
  v.begin = k * block_users_;
  v.size = std::min(static_cast<std::int64_t>(users_.size()), v.begin + block_users_) - v.begin;
  const auto t0 = train_start_[static_cast<std::size_t>(k)], t1 = train_start_[static_cast<std::size_t>(k) + 1];
  const auto r0 = relevant_start_[static_cast<std::size_t>(k)], r1 = relevant_start_[static_cast<std::size_t>(k) + 1];
  // Block k's offsets follow the k earlier blocks' (one more entry each than users).
  const std::int64_t offsets_at = v.begin + k;
  v.users = users_t_.slice_rows(v.begin, v.begin + v.size);
  v.train_offsets = train_offsets_.slice_rows(offsets_at, offsets_at + v.size + 1);
  v.train_items = train_items_.slice_rows(t0, t1);
  v.relevant_offsets = relevant_offsets_.slice_rows(offsets_at, offsets_at + v.size + 1);
  v.relevant_items = relevant_items_.slice_rows(r0, r1);
  v.relevant_gains = relevant_gains_.numel() > 0 ? relevant_gains_.slice_rows(r0, r1) : relevant_gains_;
  v.groups = groups_.slice_rows(v.begin, v.begin + v.size);
  return v;
}

}  // namespace recforge::ranking
