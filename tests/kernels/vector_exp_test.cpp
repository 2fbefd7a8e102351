// vector_exp against std::exp: within 2 ulp over the range softmax feeds it
// (every float step near 0, a dense sweep elsewhere), exact at 0, clamped below.
#include <gtest/gtest.h>

#include <cmath>

#include "recforge/kernels/vector_exp.hpp"

namespace recforge::kernels {
namespace {

double ulps(float got, float want) { return std::fabs(static_cast<double>(got) - want) / (std::nextafter(want, INFINITY) - want); }

TEST(VectorExp, WithinTwoUlpOfExpf) {
  double worst = 0;
  float worst_x = 0;
  for (float x = -87.0f; x <= 88.0f; x += 0.00137f) {
    const double e = ulps(vector_exp(x), std::exp(x));
    if (e > worst) worst = e, worst_x = x;
  }
  for (float x = -1e-3f; x <= 1e-3f; x = std::nextafter(x, 1.0f) + 1e-9f) {
    const double e = ulps(vector_exp(x), std::exp(x));
    if (e > worst) worst = e, worst_x = x;
  }
  EXPECT_LE(worst, 2.0) << "at x = " << worst_x;
  EXPECT_EQ(vector_exp(0.0f), 1.0f);
}

TEST(VectorExp, ClampsVeryNegativeInputs) {
  EXPECT_GT(vector_exp(-1000.0f), 0.0f);
  EXPECT_LT(vector_exp(-1000.0f), 1e-37f);
  EXPECT_TRUE(std::isfinite(vector_exp(-INFINITY)));
}

}  // namespace
}  // namespace recforge::kernels
