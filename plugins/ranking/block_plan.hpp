// The full-ranking work of one rank, laid out before its first block: the
// evaluation users in blocks of `block_users` and, for each block, its users'
// training items (to mask) and held-out items (relevant) as CSR whose offsets
// start at 0 for the block. The blocks' arrays are concatenated into one
// tensor each on the evaluation device, so a block is a set of views: no host
// work and no copy between the blocks' kernels (on a GPU, one upload per
// evaluation instead of six per block, which stalled the stream each time).
#pragma once

#include <cstdint>
#include <vector>

#include "recforge/core/resources.hpp"
#include "recforge/core/tensor.hpp"
#include "recforge/data/interactions.hpp"

namespace recforge::ranking {

// `host` on the evaluation device (itself on a CPU evaluation: no copy).
Tensor to_device(const Tensor& host, const Resources& res);

// One block: users [begin, begin + size) of the plan.
struct BlockViews {
  std::int64_t begin = 0, size = 0;
  Tensor users;                                            // (size) i32
  Tensor train_offsets, train_items;                       // (size + 1) i64 from 0, (n) i32
  Tensor relevant_offsets, relevant_items, relevant_gains;  // gains (n) f32, or (0) when not graded
  Tensor groups;                                           // (size) i32
};

class BlockPlan {
 public:
  // `users`: this rank's evaluation users, in order; `group`: user -> group.
  // Held-out items repeated for a user count once; with `graded`, their
  // values (ratings) are the gains. Rows of `train` and `relevant` are sorted.
  BlockPlan(const data::Csr& train, const data::Csr& relevant, const std::vector<std::int32_t>& group,
            std::vector<std::int32_t> users, std::int64_t block_users, bool graded, const Resources& res);

  std::int64_t blocks() const { return static_cast<std::int64_t>(train_start_.size()) - 1; }
  std::int64_t block_users() const { return block_users_; }
  Device device() const { return users_t_.device(); }
  const std::vector<std::int32_t>& users() const { return users_; }
  BlockViews block(std::int64_t k) const;

 private:
  std::int64_t block_users_;
  std::vector<std::int32_t> users_;
  // Per block (and one past the last): its first training / relevant item.
  std::vector<std::int64_t> train_start_, relevant_start_;
  Tensor users_t_, train_offsets_, train_items_, relevant_offsets_, relevant_items_, relevant_gains_, groups_;
};

}  // namespace recforge::ranking
