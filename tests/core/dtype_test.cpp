// f16/bf16 storage conversions: exact values, rounding to nearest even, specials.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "recforge/core/dtype.hpp"
#include "testing/error_testing.hpp"

namespace recforge {
namespace {

TEST(DType, SizesAndNames) {
  EXPECT_EQ(dtype_size(DType::kF32), 4u);
  EXPECT_EQ(dtype_size(DType::kBF16), 2u);
  EXPECT_EQ(dtype_size(DType::kI64), 8u);
  EXPECT_EQ(dtype_name(DType::kF16), "f16");
  EXPECT_EQ(parse_dtype("bfloat16"), DType::kBF16);
  RF_EXPECT_ERROR(parse_dtype("f8"), ErrorKind::kInvalidArgument, "unknown dtype 'f8'");
}

TEST(Half, ExactValues) {
  EXPECT_EQ(float_to_half(1.0f).bits, 0x3C00);
  EXPECT_EQ(float_to_half(-2.0f).bits, 0xC000);
  EXPECT_EQ(float_to_half(65504.0f).bits, 0x7BFF);           // largest finite half
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -24)).bits, 0x0001);  // smallest subnormal
  EXPECT_EQ(float_to_half(0.0f).bits, 0x0000);
  EXPECT_EQ(float_to_half(-0.0f).bits, 0x8000);
}

TEST(Half, RoundsToNearestEven) {
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)).bits, 0x3C00);      // tie -> even (down)
  EXPECT_EQ(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)).bits, 0x3C02);  // tie -> even (up)
  EXPECT_EQ(float_to_half(65520.0f).bits, 0x7C00);                          // tie at the top -> Inf
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -25)).bits, 0x0000);             // tie -> even zero
}

TEST(Half, SpecialsSurvive) {
  EXPECT_EQ(float_to_half(std::numeric_limits<float>::infinity()).bits, 0x7C00);
  EXPECT_TRUE(std::isnan(half_to_float(float_to_half(std::nanf("")))));
  EXPECT_TRUE(std::isinf(half_to_float(Half{0xFC00})));
}

TEST(Half, RoundTripsEveryFiniteHalf) {
  for (std::uint32_t bits = 0; bits < 0x10000; ++bits) {
    const Half h{static_cast<std::uint16_t>(bits)};
    const float f = half_to_float(h);
    if (std::isnan(f)) continue;
    ASSERT_EQ(float_to_half(f).bits, h.bits) << std::hex << bits;
  }
}

TEST(BFloat16, RoundsAndRoundTrips) {
  EXPECT_EQ(float_to_bfloat16(1.0f).bits, 0x3F80);
  EXPECT_EQ(float_to_bfloat16(1.0f + std::ldexp(1.0f, -8)).bits, 0x3F80);      // tie -> even
  EXPECT_EQ(float_to_bfloat16(1.0f + 3 * std::ldexp(1.0f, -8)).bits, 0x3F82);  // tie -> even
  EXPECT_EQ(bfloat16_to_float(BFloat16{0x4049}), 3.140625f);
  EXPECT_TRUE(std::isnan(bfloat16_to_float(float_to_bfloat16(std::nanf("")))));
}

}  // namespace
}  // namespace recforge
