// Synthetic data: exact shape, determinism across thread counts, valid values,
// learnable structure, and a round trip through every written format.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "data/generator_draws.hpp"
#include "recforge/data/generator.hpp"
#include "testing/error_testing.hpp"
#include "testing/temp_dir.hpp"

namespace recforge::data {
namespace {

TEST(Generator, TinyPresetHasTheExactShape) {
  const GeneratorPreset p = generator_preset("tiny");
  const RawInteractions rows = generate_interactions(p, 1);
  EXPECT_EQ(rows.report.rows, p.interactions);
  std::set<std::int64_t> users(rows.users.integers.begin(), rows.users.integers.end());
  EXPECT_EQ(static_cast<std::int32_t>(users.size()), p.users);
  std::set<std::pair<std::int64_t, std::int64_t>> pairs;
  for (std::size_t i = 0; i < rows.users.integers.size(); ++i) {
    EXPECT_TRUE(pairs.emplace(rows.users.integers[i], rows.items.integers[i]).second) << "duplicate pair";
    EXPECT_GE(rows.items.integers[i], 1);
    EXPECT_LE(rows.items.integers[i], p.items);
    const float r = rows.rating[i];
    EXPECT_TRUE(r >= 0.5f && r <= 5.0f && r * 2 == std::round(r * 2)) << r;
    if (i > 0 && rows.users.integers[i] == rows.users.integers[i - 1]) {
      EXPECT_GE(rows.timestamp[i], rows.timestamp[i - 1]);
    }
  }
  for (std::int64_t u : users) {
    const auto n = std::count(rows.users.integers.begin(), rows.users.integers.end(), u);
    EXPECT_GE(n, p.min_per_user);
  }
}

// A user's draws each take their own Philox words: a Gaussian shared its
// words with the uniforms drawn after it, so a user's rating bias fixed the
// span of their activity (and each rating's noise fixed later rows' items).
TEST(Generator, AUsersDrawsShareNoPhiloxWords) {
  using namespace detail;
  const std::uint64_t seed = 5, stream = rng_stream(RngPurpose::kGenerator, 3);
  UserRng rng{seed, stream};
  const double first = rng.uniform(), gaussian = rng.gaussian(), after = rng.uniform();
  EXPECT_EQ(first, uniform53(seed, stream, 0));
  EXPECT_EQ(gaussian, box_muller(1.0 - uniform53(seed, stream, 1), uniform53(seed, stream, 2)));
  EXPECT_EQ(after, uniform53(seed, stream, 3));
  EXPECT_EQ(rng.next, 4U);
}

TEST(Generator, SameSeedSameDataWhateverTheThreads) {
  const GeneratorPreset p = generator_preset("tiny");
  const RawInteractions a = generate_interactions(p, 5, 1), b = generate_interactions(p, 5, 3);
  EXPECT_EQ(a.items.integers, b.items.integers);
  EXPECT_EQ(a.rating, b.rating);
  EXPECT_EQ(a.timestamp, b.timestamp);
  EXPECT_NE(generate_interactions(p, 6).items.integers, a.items.integers);
}

TEST(Generator, PopularityIsSkewed) {
  const RawInteractions rows = generate_interactions(generator_preset("ml100k"), 3);
  std::vector<std::int64_t> counts(1683, 0);
  for (std::int64_t i : rows.items.integers) ++counts[static_cast<std::size_t>(i)];
  std::sort(counts.begin(), counts.end(), std::greater<>());
  std::int64_t top = 0;
  for (int k = 0; k < 168; ++k) top += counts[static_cast<std::size_t>(k)];
  // Real ML-100K: the top 10% of items hold 42.7% of the ratings.
  EXPECT_NEAR(static_cast<double>(top) / 100000.0, 0.427, 0.05);
}

TEST(Generator, WrittenFilesReadBackExactly) {
  testing::TempDir dir;
  const RawInteractions rows = generate_interactions(generator_preset("tiny"), 2);
  for (auto [format, name] : {std::pair{Format::kMovieLensCsv, "ratings.csv"}, std::pair{Format::kMovieLensDat, "ratings.dat"}}) {
    write_interactions(rows, dir.file(name), format);
    const RawInteractions back = read_raw_interactions(dir.file(name), {});
    EXPECT_EQ(back.users.integers, rows.users.integers) << name;
    EXPECT_EQ(back.items.integers, rows.items.integers);
    EXPECT_EQ(back.rating, rows.rating);
    EXPECT_EQ(back.timestamp, rows.timestamp);
  }
}

// u.data holds whole stars from 1 to 5: a half star rounds to the nearest
// (0.5 wrote 0, which the ML-100K reader refuses), and the file reads back.
TEST(Generator, WholeStarFormatReadsBack) {
  testing::TempDir dir;
  const RawInteractions rows = generate_interactions(generator_preset("tiny"), 2);
  ASSERT_NE(std::count(rows.rating.begin(), rows.rating.end(), 0.5f), 0) << "the preset no longer draws 0.5";
  write_interactions(rows, dir.file("u.data"), Format::kMovieLens100k);
  ReadOptions options;
  options.format = Format::kMovieLens100k;
  const RawInteractions back = read_raw_interactions(dir.file("u.data"), options);
  ASSERT_EQ(back.rating.size(), rows.rating.size());
  for (std::size_t i = 0; i < rows.rating.size(); ++i) {
    EXPECT_EQ(back.rating[i], std::clamp(std::round(rows.rating[i]), 1.0f, 5.0f)) << "row " << i << ": " << rows.rating[i];
  }
}

TEST(Generator, UnknownPresetListsTheKnownOnes) {
  RF_EXPECT_ERROR(generator_preset("ml50m"), ErrorKind::kConfig, "unknown synthetic preset 'ml50m' (ml25m, ml1m, ml100k, tiny)");
}

}  // namespace
}  // namespace recforge::data
