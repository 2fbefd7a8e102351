// Random ALS problems shared by the CPU and GPU kernel tests.
#pragma once

#include <cstdint>
#include <vector>

#include "als/als_kernels.hpp"
#include "recforge/core/philox.hpp"
#include "recforge/core/tensor.hpp"
#include "recforge/kernels/random.hpp"

namespace recforge::als {

// A problem with `rows` rows over `cols` columns of the fixed side, D factors.
struct Case {
  Tensor factors, other, gram, offsets, cols, weights, targets;
  Problem problem() const {
    return Problem{factors, other, gram, offsets, cols, weights, targets, 0, factors.size(0)};
  }
  // A copy of every tensor on `res`'s device.
  Case to(const Resources& res) const {
    const auto copy = [&](const Tensor& t) { return t.to(res.device(), res.stream()); };
    return Case{copy(factors), copy(other), copy(gram), copy(offsets), copy(cols), copy(weights), copy(targets)};
  }
};

inline Case random_case(std::int64_t rows, std::int64_t cols, std::int64_t d, bool implicit, std::uint64_t seed) {
  const Resources cpu = Resources::cpu();
  Case c;
  c.factors = Tensor::empty({rows, d}, DType::kF32);
  c.other = Tensor::empty({cols, d}, DType::kF32);
  kernels::fill_normal(cpu, c.factors, 0, 0.1f, seed, 1);
  kernels::fill_normal(cpu, c.other, 0, 0.3f, seed, 2);
  c.gram = Tensor::empty({d, d}, DType::kF32);
  gram(cpu, c.other, c.gram);
  std::vector<std::int64_t> off = {0};
  std::vector<std::int32_t> col;
  std::vector<float> w, t;
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int32_t i = 0; i < cols; ++i) {
      if (philox_below(seed, 3, static_cast<std::uint64_t>(r * cols + i), 4) != 0) continue;
      col.push_back(i);
      w.push_back(implicit ? 1.0f + 5.0f * philox_uniform(seed, 4, col.size()) : 1.0f);
      t.push_back(implicit ? 1.0f : 1.0f + 4.0f * philox_uniform(seed, 5, col.size()));
    }
    off.push_back(static_cast<std::int64_t>(col.size()));
  }
  c.offsets = Tensor::from_vector(off);
  c.cols = Tensor::from_vector(col);
  c.weights = Tensor::from_vector(w);
  c.targets = Tensor::from_vector(t);
  return c;
}

// random_case(6, 40, 8, implicit) whose row 2 has confidences of -100: its
// normal equations are not positive definite (unobserved_weight 1).
inline Case indefinite_case() {
  Case c = random_case(6, 40, 8, true, 11);
  const auto offsets = c.offsets.to_vector<std::int64_t>();
  for (std::int64_t k = offsets[2]; k < offsets[3]; ++k) c.weights.data_as<float>()[k] = -100.0f;
  return c;
}

}  // namespace recforge::als
