// Tensor comparison for tests: prints the first mismatches and the largest
// difference (like llm.c's test_gpt2.c) instead of one opaque EXPECT failure.
#pragma once

#include <gtest/gtest.h>

#include <vector>

#include "recforge/core/tensor.hpp"

namespace recforge::testing {

// Compares two f32 tensors (any device; copied to the host) element-wise with
// |a - b| <= atol + rtol * |b|. Returns a gtest assertion result.
::testing::AssertionResult tensors_near(const Tensor& actual, const Tensor& expected, double atol,
                                        double rtol = 0.0);

}  // namespace recforge::testing

#define RF_EXPECT_TENSOR_NEAR(actual, expected, atol, ...) \
  EXPECT_TRUE(::recforge::testing::tensors_near((actual), (expected), (atol), ##__VA_ARGS__))
