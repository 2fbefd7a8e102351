// The short-vector helpers: every horizontal sum equals the plain sum of its
// lanes (exact for these integer-valued floats), at both widths this build
// has (Vec16 always, VecN the target's).
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "recforge/core/simd.hpp"

// (Tests may build without -march: GCC notes that wide vectors pass
// differently there, which inline helpers do not care about.)
#pragma GCC diagnostic ignored "-Wpsabi"

namespace recforge::simd {
namespace {

std::vector<float> lanes(int n, float start) {
  std::vector<float> v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), start);
  return v;
}

float plain_sum(const std::vector<float>& v) { return std::accumulate(v.begin(), v.end(), 0.0f); }

TEST(Simd, HorizontalSumsOfSixteenLanes) {
  const auto a = lanes(16, 1), b = lanes(16, 100), c = lanes(16, -50), d = lanes(16, 1000);
  EXPECT_EQ(hsum16(load16(a.data())), plain_sum(a));
  const Vec4 four = hsum4x16(load16(a.data()), load16(b.data()), load16(c.data()), load16(d.data()));
  EXPECT_EQ(four[0], plain_sum(a));
  EXPECT_EQ(four[1], plain_sum(b));
  EXPECT_EQ(four[2], plain_sum(c));
  EXPECT_EQ(four[3], plain_sum(d));
}

TEST(Simd, HorizontalSumsAtTheTargetsWidth) {
  ASSERT_TRUE(kNativeFloats == 8 || kNativeFloats == 16);
  ASSERT_EQ(sizeof(VecN), kNativeFloats * sizeof(float));
  const auto a = lanes(kNativeFloats, 1), b = lanes(kNativeFloats, 100), c = lanes(kNativeFloats, -50),
             d = lanes(kNativeFloats, 1000);
  EXPECT_EQ(hsumn(loadn(a.data())), plain_sum(a));
  // Lane i of each input lands in its own sum: a permutation would not show
  // with iota inputs, so each vector also gets one distinctive lane.
  auto marked = b;
  marked[static_cast<std::size_t>(kNativeFloats - 1)] += 0.5f;
  const Vec4 four = hsum4xn(loadn(a.data()), loadn(marked.data()), loadn(c.data()), loadn(d.data()));
  EXPECT_EQ(four[0], plain_sum(a));
  EXPECT_EQ(four[1], plain_sum(marked));
  EXPECT_EQ(four[2], plain_sum(c));
  EXPECT_EQ(four[3], plain_sum(d));
  std::vector<float> out(static_cast<std::size_t>(kNativeFloats));
  storen(out.data(), loadn(a.data()) * 2.0f);
  for (int i = 0; i < kNativeFloats; ++i) EXPECT_EQ(out[static_cast<std::size_t>(i)], 2.0f * a[static_cast<std::size_t>(i)]);
}

}  // namespace
}  // namespace recforge::simd
