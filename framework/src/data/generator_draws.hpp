// The synthetic generator's random draws: 53-bit uniforms and Box-Muller
// Gaussians over Philox words, and one user's sequence of them.
#pragma once

#include <cmath>
#include <cstdint>

#include "recforge/core/philox.hpp"

namespace recforge::data::detail {

// Uniform double in [0, 1) from Philox words 2 slot and 2 slot + 1 (53 bits).
inline double uniform53(std::uint64_t seed, std::uint64_t stream, std::uint64_t slot) {
  const std::uint64_t hi = philox_word(seed, stream, 2 * slot) >> 5;
  const std::uint64_t lo = philox_word(seed, stream, 2 * slot + 1) >> 6;
  return static_cast<double>((hi << 26) | lo) * (1.0 / 9007199254740992.0);
}

// A standard normal from two uniforms: u1 in (0, 1], u2 in [0, 1).
inline double box_muller(double u1, double u2) {
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

// The Gaussian at `index` of a stream that holds nothing else: slots 2 index, 2 index + 1.
inline double normal(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
  return box_muller(1.0 - uniform53(seed, stream, 2 * index), uniform53(seed, stream, 2 * index + 1));
}

// Sequential draws from one user's stream. Each draw takes the next free
// slots (a Gaussian two), so no two draws share Philox words: the user's
// rating bias is not a function of the span of their activity.
struct UserRng {
  std::uint64_t seed, stream, next = 0;
  double uniform() { return uniform53(seed, stream, next++); }
  double gaussian() {
    const double u1 = 1.0 - uniform();
    return box_muller(u1, uniform());
  }
};

}  // namespace recforge::data::detail
