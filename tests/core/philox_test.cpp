// Philox 4x32-10: the Random123 known-answer vectors, and recforge's streams built on it.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "recforge/core/philox.hpp"
#include "recforge/core/tensor.hpp"
#include "recforge/kernels/nn.hpp"
#include "recforge/kernels/random.hpp"

namespace recforge {
namespace {

struct KnownAnswer {
  Philox4x32 counter;
  std::uint32_t key0, key1;
  Philox4x32 expected;
};

// Random123 tests/kat_vectors, the three "philox4x32 10" lines (counter, key, result).
const KnownAnswer kKnownAnswers[] = {
    {{{0x00000000, 0x00000000, 0x00000000, 0x00000000}}, 0x00000000, 0x00000000,
     {{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}}},
    {{{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}}, 0xffffffff, 0xffffffff,
     {{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}}},
    {{{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}}, 0xa4093822, 0x299f31d0,
     {{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}}},
};

TEST(Philox, MatchesRandom123KnownAnswers) {
  for (const KnownAnswer& k : kKnownAnswers) {
    const Philox4x32 out = philox4x32_10(k.counter, k.key0, k.key1);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(out.v[i], k.expected.v[i]) << "word " << i;
  }
}

TEST(Philox, StreamWordsAreTheBlockFunctionOfTheirCounter) {
  const std::uint64_t seed = 0x123456789abcdefULL, stream = 0xfeedULL << 32 | 7;
  for (std::uint64_t index : {0ULL, 1ULL, 5ULL, (1ULL << 34) + 3}) {
    const std::uint64_t block = index / 4;
    const Philox4x32 out = philox4x32_10(
        {{static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(block >> 32),
          static_cast<std::uint32_t>(stream), static_cast<std::uint32_t>(stream >> 32)}},
        static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
    EXPECT_EQ(philox_word(seed, stream, index), out.v[index % 4]) << index;
  }
}

TEST(Philox, DifferentSeedsAndStreamsDiffer) {
  std::set<std::uint32_t> words;
  for (std::uint64_t seed = 0; seed < 4; ++seed)
    for (std::uint64_t stream = 0; stream < 4; ++stream) words.insert(philox_word(seed, stream, 0));
  EXPECT_EQ(words.size(), 16u);
}

// Dropout keys per step: one distinct key per step, never the run's own seed
// (the key its splits, shuffles and initial values use), at any step, the
// steps 2^16 and 2^32 that overran a stream id's index included.
TEST(Philox, StepKeysAreDistinctAndNeverTheRunSeed) {
  const std::uint64_t seed = 42;
  std::set<std::uint64_t> keys;
  for (std::uint64_t step : {0ULL, 1ULL, 2ULL, 255ULL, 256ULL, 4095ULL, 4096ULL, 65535ULL, 65536ULL, 1ULL << 20,
                             1ULL << 24, 1ULL << 32, (1ULL << 32) + 1, ~0ULL - 1}) {
    const std::uint64_t key = step_key(seed, step);
    EXPECT_NE(key, seed) << "step " << step;
    EXPECT_TRUE(keys.insert(key).second) << "step " << step << " repeats another step's key";
  }
}

TEST(Philox, UniformIsInUnitIntervalWithTheRightMean) {
  double sum = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const float u = philox_uniform(7, 1, static_cast<std::uint64_t>(i));
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
    sum += u;
  }
  EXPECT_NEAR(sum / n, 0.5, 0.003);  // 0.003 is > 4 standard errors (1/sqrt(12 n) = 0.00065)
}

TEST(Philox, BelowIsUniformOverSmallRanges) {
  std::vector<int> counts(7, 0);
  const int n = 70000;
  for (int i = 0; i < n; ++i) ++counts[philox_below(3, 2, static_cast<std::uint64_t>(i), 7)];
  for (int c : counts) EXPECT_NEAR(c, n / 7, 400);  // sd ~ 92
}

TEST(FillKernels, CpuUniformEqualsTheStreamFormula) {
  Tensor t = Tensor::empty({33, 3}, DType::kF32);
  kernels::fill_uniform(Resources::cpu(), t, -2.0f, 2.0f, 11, 5);
  const float* p = t.data_as<float>();
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    EXPECT_EQ(p[i], -2.0f + 4.0f * philox_uniform(11, 5, static_cast<std::uint64_t>(i)));
  }
}

// The four-words-per-block walk gives the stream's words in order from any
// start (aligned or not to a block) and for any count.
TEST(Philox, ForEachWordEqualsWordByWord) {
  for (const std::uint64_t first : {0u, 1u, 3u, 4u, 1021u}) {
    for (const std::uint64_t count : {0u, 1u, 2u, 5u, 13u, 64u, 67u, 200u}) {
      std::uint64_t calls = 0;
      philox_for_each_word(8, 9, first, count, [&](std::uint64_t i, std::uint32_t word) {
        EXPECT_EQ(i, calls++);
        EXPECT_EQ(word, philox_word(8, 9, first + i)) << first << " + " << i;
      });
      EXPECT_EQ(calls, count);
    }
  }
}

// Dropout keeps element i iff philox_uniform(seed, stream, offset + i) >= p
// (nn.hpp), across its chunks and from an offset inside a block.
TEST(DropoutKernel, CpuMaskEqualsTheStreamFormula) {
  const std::int64_t n = 3 * 4096 + 7;
  Tensor x = Tensor::empty({n}, DType::kF32), y = Tensor::empty({n}, DType::kF32);
  for (std::int64_t i = 0; i < n; ++i) x.data_as<float>()[i] = 1.0f + static_cast<float>(i % 5);
  const kernels::DropoutKey key{21, 22, 4099};
  kernels::dropout(Resources::cpu(), x, 0.25f, key, y);
  std::int64_t dropped = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const bool kept = philox_uniform(21, 22, key.offset + static_cast<std::uint64_t>(i)) >= 0.25f;
    EXPECT_EQ(y.data_as<float>()[i], kept ? x.data_as<float>()[i] * (1.0f / 0.75f) : 0.0f) << i;
    dropped += kept ? 0 : 1;
  }
  EXPECT_NEAR(static_cast<double>(dropped) / n, 0.25, 0.02);

  // A stored mask records the same decisions, and the backward that reads it
  // adds exactly what the one recomputing them from the key adds.
  Tensor y2 = Tensor::empty({n}, DType::kF32), mask = Tensor::empty({n}, DType::kU8);
  kernels::dropout(Resources::cpu(), x, 0.25f, key, y2, mask);
  EXPECT_EQ(y2.to_vector<float>(), y.to_vector<float>());
  for (std::int64_t i = 0; i < n; ++i) ASSERT_EQ(mask.data_as<std::uint8_t>()[i] != 0, y.data_as<float>()[i] != 0.0f) << i;
  Tensor from_key = Tensor::zeros({n}, DType::kF32), from_mask = Tensor::zeros({n}, DType::kF32);
  kernels::dropout_backward(Resources::cpu(), x, 0.25f, key, from_key);
  kernels::dropout_backward(Resources::cpu(), x, 0.25f, key, from_mask, mask);
  EXPECT_EQ(from_mask.to_vector<float>(), from_key.to_vector<float>());
  EXPECT_EQ(from_mask.to_vector<float>(), y.to_vector<float>());  // dy = x: the forward's output
}

TEST(FillKernels, CpuNormalHasMeanAndStddev) {
  Tensor t = Tensor::empty({100000}, DType::kF32);
  kernels::fill_normal(Resources::cpu(), t, 1.5f, 0.5f, 3, 9);
  double sum = 0, sum_sq = 0;
  for (float v : t.span<float>()) {
    sum += v;
    sum_sq += static_cast<double>(v) * v;
  }
  const double mean = sum / t.numel();
  const double stddev = std::sqrt(sum_sq / t.numel() - mean * mean);
  EXPECT_NEAR(mean, 1.5, 0.01);
  EXPECT_NEAR(stddev, 0.5, 0.01);
}

TEST(FillKernels, RejectWrongDtypeAndDevice) {
  Tensor ints = Tensor::empty({4}, DType::kI32);
  EXPECT_THROW(kernels::fill_uniform(Resources::cpu(), ints, 0, 1, 0, 0), Error);
}

}  // namespace
}  // namespace recforge
