// Philox 4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
// SC'11): a counter-based generator. The same (key, counter) gives the same four
// 32-bit words on the CPU and on CUDA, because both compile this very code.
//
// recforge streams: value i of stream (seed, stream_id) is word i % 4 of
//   philox4x32_10(counter = {i/4 lo, i/4 hi, stream_id lo, stream_id hi},
//                 key     = {seed lo, seed hi}).
// Any element can be drawn independently (no sequential state), so a kernel
// thread, a rank or a resumed run all see exactly the same numbers.
#pragma once

#include <cstdint>

#include "recforge/core/host_device.hpp"

namespace recforge {

struct Philox4x32 {
  std::uint32_t v[4];
};

namespace detail {
RF_HOST_DEVICE RF_FORCE_INLINE std::uint32_t mulhilo32(std::uint32_t a, std::uint32_t b,
                                                       std::uint32_t* hi) {
  const std::uint64_t product = static_cast<std::uint64_t>(a) * b;
  *hi = static_cast<std::uint32_t>(product >> 32);
  return static_cast<std::uint32_t>(product);
}
}  // namespace detail

// The raw block function with 10 rounds.
RF_HOST_DEVICE inline Philox4x32 philox4x32_10(Philox4x32 counter, std::uint32_t key0,
                                               std::uint32_t key1) {
  constexpr std::uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr std::uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  Philox4x32 x = counter;
  for (int round = 0; round < 10; ++round) {
    std::uint32_t hi0, hi1;
    const std::uint32_t lo0 = detail::mulhilo32(kM0, x.v[0], &hi0);
    const std::uint32_t lo1 = detail::mulhilo32(kM1, x.v[2], &hi1);
    x = Philox4x32{{hi1 ^ x.v[1] ^ key0, lo1, hi0 ^ x.v[3] ^ key1, lo0}};
    key0 += kW0;
    key1 += kW1;
  }
  return x;
}

// Word `index` of the stream (seed, stream_id).
RF_HOST_DEVICE inline std::uint32_t philox_word(std::uint64_t seed, std::uint64_t stream_id,
                                                std::uint64_t index) {
  const std::uint64_t block = index >> 2;
  const Philox4x32 counter{{static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(block >> 32),
                            static_cast<std::uint32_t>(stream_id),
                            static_cast<std::uint32_t>(stream_id >> 32)}};
  const Philox4x32 out = philox4x32_10(counter, static_cast<std::uint32_t>(seed),
                                       static_cast<std::uint32_t>(seed >> 32));
  return out.v[index & 3];
}

// The uniform float of a word, 24 random bits.
RF_HOST_DEVICE inline float philox_word_uniform(std::uint32_t word) {
  return static_cast<float>(word >> 8) * (1.0f / 16777216.0f);
}

// Uniform float in [0, 1) with 24 random bits: exact and identical on every device.
RF_HOST_DEVICE inline float philox_uniform(std::uint64_t seed, std::uint64_t stream_id,
                                           std::uint64_t index) {
  return philox_word_uniform(philox_word(seed, stream_id, index));
}

namespace detail {

constexpr int kPhiloxLanes = 8;

#if !defined(__CUDACC__)
// Eight blocks first_block .. first_block + 7 of a stream at once, one block
// per 64-bit vector lane holding a 32-bit word (GCC/Clang vector extensions:
// the 32 x 32 -> 64-bit products of the rounds become vector multiplies):
// words[4 b + w] is word w of block first_block + b. Host only.
inline void philox_blocks8(std::uint64_t seed, std::uint64_t stream_id, std::uint64_t first_block,
                           std::uint32_t* words) {
  using Lanes = std::uint64_t __attribute__((vector_size(64)));
  constexpr std::uint64_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u, kLow = 0xFFFFFFFFu;
  constexpr std::uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  const Lanes lane = {0, 1, 2, 3, 4, 5, 6, 7};
  const Lanes block = first_block + lane;
  Lanes x0 = block & kLow, x1 = block >> 32;
  Lanes x2 = Lanes{} + (stream_id & kLow), x3 = Lanes{} + (stream_id >> 32);
  std::uint32_t key0 = static_cast<std::uint32_t>(seed), key1 = static_cast<std::uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    const Lanes p0 = x0 * kM0, p1 = x2 * kM1;
    x0 = (p1 >> 32) ^ x1 ^ key0;
    x2 = (p0 >> 32) ^ x3 ^ key1;
    x1 = p1 & kLow;
    x3 = p0 & kLow;
    key0 += kW0;
    key1 += kW1;
  }
  for (int l = 0; l < kPhiloxLanes; ++l) {
    words[4 * l] = static_cast<std::uint32_t>(x0[l]);
    words[4 * l + 1] = static_cast<std::uint32_t>(x1[l]);
    words[4 * l + 2] = static_cast<std::uint32_t>(x2[l]);
    words[4 * l + 3] = static_cast<std::uint32_t>(x3[l]);
  }
}
#endif

}  // namespace detail

// Calls fn(i, word) for words first .. first + count - 1 of the stream in order,
// the same words philox_word gives, with one block function per four words
// instead of one per word, and on the host eight blocks at a time in vector
// registers (dropout masks over a tensor).
template <class Fn>
RF_HOST_DEVICE inline void philox_for_each_word(std::uint64_t seed, std::uint64_t stream_id, std::uint64_t first,
                                                std::uint64_t count, Fn&& fn) {
  std::uint64_t i = 0;
  while (i < count) {
    const std::uint64_t index = first + i, block = index >> 2;
#if !defined(__CUDACC__)
    constexpr std::uint64_t kRun = 4 * detail::kPhiloxLanes;
    if ((index & 3) == 0 && count - i >= kRun) {
      std::uint32_t words[kRun];
      detail::philox_blocks8(seed, stream_id, block, words);
      for (std::uint64_t w = 0; w < kRun; ++w) fn(i + w, words[w]);
      i += kRun;
      continue;
    }
#endif
    const Philox4x32 counter{{static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(block >> 32),
                              static_cast<std::uint32_t>(stream_id), static_cast<std::uint32_t>(stream_id >> 32)}};
    const Philox4x32 out =
        philox4x32_10(counter, static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
    for (std::uint64_t w = index & 3; w < 4 && i < count; ++w, ++i) fn(i, out.v[w]);
  }
}

// Uniform integer in [0, n) by Lemire's multiply-shift (bias below 2^-32 * n).
RF_HOST_DEVICE inline std::uint32_t philox_below(std::uint64_t seed, std::uint64_t stream_id,
                                                 std::uint64_t index, std::uint32_t n) {
  return static_cast<std::uint32_t>(
      (static_cast<std::uint64_t>(philox_word(seed, stream_id, index)) * n) >> 32);
}

// Stream ids used across recforge, so that no two consumers share a stream.
// A consumer that needs many streams (per epoch, per rank) adds its own index
// in the low 32 bits: stream_id = (purpose << 32) | index.
enum class RngPurpose : std::uint64_t {
  kInit = 1,         // parameter initialisation
  kShuffle = 2,      // mini-batch order
  kNegatives = 3,    // negative sampling for training
  kDropout = 4,
  kSplit = 5,        // train/test splits
  kEvalNegatives = 6,// sampled-ranking candidates
  kGenerator = 7,    // synthetic data
  kTest = 100,
};
RF_HOST_DEVICE inline std::uint64_t rng_stream(RngPurpose purpose, std::uint32_t index = 0) {
  return (static_cast<std::uint64_t>(purpose) << 32) | index;
}

// The Philox key of one training step's draws (dropout masks): the run's seed
// mixed with the step by an odd multiplier, so every step draws independent
// masks while the stream id keeps its purpose and the model's site (layer,
// head) in its index. A step folded into the stream id instead reaches the
// purpose bits (NCF's step << 16 gave step 65,536 the train/test split's stream).
RF_HOST_DEVICE inline std::uint64_t step_key(std::uint64_t seed, std::uint64_t step) {
  return seed ^ ((step + 1) * 0x9E3779B97F4A7C15ull);
}

}  // namespace recforge
