// Per-element formulas of the random fills, shared verbatim by the CPU and CUDA
// kernels (double-precision math so both devices round to the same float).
#pragma once

#include <cmath>
#include <cstdint>

#include "recforge/core/philox.hpp"

namespace recforge::kernels::detail {

// low + scale * u with one rounding on both devices: an explicit fma, since
// whether a compiler fuses the expression depends on its flags (nvcc does by
// default, GCC only with an FMA-capable -march).
RF_HOST_DEVICE inline float uniform_element(std::uint64_t seed, std::uint64_t stream, std::uint64_t i, float low,
                                            float scale) {
  return fmaf(scale, philox_uniform(seed, stream, i), low);
}

RF_HOST_DEVICE inline float normal_element(std::uint64_t seed, std::uint64_t stream, std::uint64_t i,
                                           float mean, float stddev) {
  const std::uint64_t pair = i >> 1;
  // u1 in (0, 1] so log() is finite; u2 in [0, 1).
  const double u1 = 1.0 - static_cast<double>(philox_word(seed, stream, 2 * pair) >> 8) * (1.0 / 16777216.0);
  const double u2 = static_cast<double>(philox_word(seed, stream, 2 * pair + 1) >> 8) * (1.0 / 16777216.0);
  const double radius = sqrt(-2.0 * log(u1));
  const double angle = 6.283185307179586 * u2;
  const double z = (i & 1) ? radius * sin(angle) : radius * cos(angle);
  return static_cast<float>(mean + stddev * z);
}

}  // namespace recforge::kernels::detail
