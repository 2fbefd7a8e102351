// Portable short vectors for CPU kernels (GCC/Clang vector extensions): the
// compiler maps Vec16 to one AVX-512 register, two AVX2 or four SSE registers,
// following -march. Used where the auto-vectoriser leaves speed behind, e.g.
// keeping dot-product accumulators in registers and sharing horizontal sums.
#pragma once

#include <cstring>

// These are inline helpers, never called across a library boundary: GCC's
// note that 64-byte vectors are passed differently without AVX-512 does not
// concern them.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"

namespace recforge::simd {

using Vec16 = float __attribute__((vector_size(64)));
using Vec8 = float __attribute__((vector_size(32)));
using Vec4 = float __attribute__((vector_size(16)));

// Loads and stores of any float* (no alignment assumed): memcpy compiles to one
// unaligned vector move. (A reduced-alignment typedef works in GCC only; clang
// keeps the vector's natural alignment and UBSan rightly reports it.)
inline Vec16 load16(const float* p) {
  Vec16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store16(float* p, Vec16 v) { std::memcpy(p, &v, sizeof v); }
inline Vec4 load4(const float* p) {
  Vec4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store4(float* p, Vec4 v) { std::memcpy(p, &v, sizeof v); }

inline float hsum8(Vec8 v) {
  const Vec4 q = __builtin_shufflevector(v, v, 0, 1, 2, 3) + __builtin_shufflevector(v, v, 4, 5, 6, 7);
  return (q[0] + q[2]) + (q[1] + q[3]);
}

inline float hsum16(Vec16 v) {
  return hsum8(__builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) +
               __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15));
}

// The horizontal sums of a, b, c, d: a transpose-and-add tree (10 shuffles for four sums).
inline Vec4 hsum4x16(Vec16 a, Vec16 b, Vec16 c, Vec16 d) {
  const Vec16 ab = __builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
                   __builtin_shufflevector(a, b, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
  const Vec16 cd = __builtin_shufflevector(c, d, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
                   __builtin_shufflevector(c, d, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
  const Vec16 abcd = __builtin_shufflevector(ab, cd, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27) +
                     __builtin_shufflevector(ab, cd, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
  const Vec8 pairs = __builtin_shufflevector(abcd, abcd, 0, 1, 4, 5, 8, 9, 12, 13) +
                     __builtin_shufflevector(abcd, abcd, 2, 3, 6, 7, 10, 11, 14, 15);
  return __builtin_shufflevector(pairs, pairs, 0, 2, 4, 6) + __builtin_shufflevector(pairs, pairs, 1, 3, 5, 7);
}

// The target's own vector: Vec16 where AVX-512 gives 32 registers of 16
// floats, Vec8 otherwise. Kernels that keep many vectors live (the ALS CG
// row: v and A v, D / width each) use this width: with Vec16 on AVX2 every
// value is a register pair, the 16 registers overflow, and GCC spills and
// reshuffles through the stack (measured: 5x slower than plain loops).
#if defined(__AVX512F__)
inline constexpr int kNativeFloats = 16;
#else
inline constexpr int kNativeFloats = 8;
#endif
using VecN = float __attribute__((vector_size(kNativeFloats * sizeof(float))));

inline VecN loadn(const float* p) {
  VecN v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void storen(float* p, VecN v) { std::memcpy(p, &v, sizeof v); }

inline float hsumn(VecN v) {
#if defined(__AVX512F__)
  return hsum16(v);
#else
  return hsum8(v);
#endif
}

// The horizontal sums of a, b, c, d (see hsum4x16).
inline Vec4 hsum4xn(VecN a, VecN b, VecN c, VecN d) {
#if defined(__AVX512F__)
  return hsum4x16(a, b, c, d);
#else
  // [a0+a4 .. a3+a7, b0+b4 .. b3+b7], then pairs, then the four sums.
  const Vec8 ab = __builtin_shufflevector(a, b, 0, 1, 2, 3, 8, 9, 10, 11) + __builtin_shufflevector(a, b, 4, 5, 6, 7, 12, 13, 14, 15);
  const Vec8 cd = __builtin_shufflevector(c, d, 0, 1, 2, 3, 8, 9, 10, 11) + __builtin_shufflevector(c, d, 4, 5, 6, 7, 12, 13, 14, 15);
  const Vec8 pairs = __builtin_shufflevector(ab, cd, 0, 1, 4, 5, 8, 9, 12, 13) +
                     __builtin_shufflevector(ab, cd, 2, 3, 6, 7, 10, 11, 14, 15);
  return __builtin_shufflevector(pairs, pairs, 0, 2, 4, 6) + __builtin_shufflevector(pairs, pairs, 1, 3, 5, 7);
#endif
}

}  // namespace recforge::simd

#pragma GCC diagnostic pop
