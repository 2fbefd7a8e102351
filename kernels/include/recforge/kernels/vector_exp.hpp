// exp(x) for float in a form the compiler vectorises (no libm call, no branch):
// x = n ln2 + r with |r| <= ln2 / 2 (two-constant Cody-Waite split), exp(r) by
// Cephes' degree-6 polynomial, 2^n put into the exponent bits. Relative error
// within 2 ulp of expf for x in [-87, 88]; inputs below are clamped (result
// ~1e-38 instead of a subnormal or 0), which softmax weights do not notice.
// Used where exp sits in a hot loop (the fused attention's softmax); the
// composed softmax (nn.cpp) clamps alike (a masked -inf score gets ~1e-38 / sum,
// where the fused kernel writes an exact 0).
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace recforge::kernels {

inline float vector_exp(float x) {
  // Comparisons, not std::fmin/fmax: those have their own NaN rule, which
  // keeps GCC from vectorising them (a libm call per element); a NaN x
  // stays NaN either way.
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  // Round x / ln2 to the nearest integer with the 1.5 * 2^23 trick (vectorises, unlike nearbyint).
  constexpr float kRound = 12582912.0f;
  const float n = (x * 1.44269504088896341f + kRound) - kRound;
  float r = std::fma(n, -0.693359375f, x);
  r = std::fma(n, 2.12194440e-4f, r);
  float p = 1.9875691500e-4f;
  p = std::fma(p, r, 1.3981999507e-3f);
  p = std::fma(p, r, 8.3334519073e-3f);
  p = std::fma(p, r, 4.1665795894e-2f);
  p = std::fma(p, r, 1.6666665459e-1f);
  p = std::fma(p, r, 5.0000001201e-1f);
  p = std::fma(p, r * r, r) + 1.0f;
  const auto bits = static_cast<std::uint32_t>(static_cast<std::int32_t>(n) + 127) << 23;
  return p * std::bit_cast<float>(bits);
}

}  // namespace recforge::kernels
