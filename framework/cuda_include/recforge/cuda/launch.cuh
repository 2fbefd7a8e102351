// Launch-geometry helpers so kernel wrappers never do inline launch arithmetic.
#pragma once

#include <cstdint>

namespace recforge::cuda {

inline constexpr int kWarpSize = 32;

// Blocks needed to cover `n` items with `threads_per_block` threads each,
// capped at the grid limit (kernels use grid-stride loops beyond it).
inline unsigned int blocks_for(std::int64_t n, int threads_per_block) {
  const std::int64_t blocks = (n + threads_per_block - 1) / threads_per_block;
  constexpr std::int64_t kMaxBlocks = 2147483647;
  return static_cast<unsigned int>(blocks < 1 ? 1 : (blocks > kMaxBlocks ? kMaxBlocks : blocks));
}

}  // namespace recforge::cuda
