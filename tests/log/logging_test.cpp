// Rank-aware logging: rank 0 prints info; other ranks only warnings unless asked.
#include <gtest/gtest.h>

#include "recforge/log/logging.hpp"

namespace recforge {
namespace {

struct RestoreLogging {
  ~RestoreLogging() { log::init(0, 1, log::Level::kWarn); }
};

TEST(Logging, OnlyRankZeroPrintsInfoByDefault) {
  RestoreLogging restore;
  log::init(0, 2, log::Level::kInfo);
  EXPECT_TRUE(log::enabled(log::Level::kInfo));
  log::init(1, 2, log::Level::kInfo);
  EXPECT_FALSE(log::enabled(log::Level::kInfo));
  EXPECT_TRUE(log::enabled(log::Level::kWarn));
  log::init(1, 2, log::Level::kInfo, /*all_ranks=*/true);
  EXPECT_TRUE(log::enabled(log::Level::kInfo));
  EXPECT_FALSE(log::enabled(log::Level::kDebug));
}

TEST(Logging, PrefixNamesTheRank) {
  RestoreLogging restore;
  log::init(1, 2, log::Level::kInfo);
  ::testing::internal::CaptureStderr();
  log::warn("disk {} full", "/tmp");
  const std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(out.find("[rank 1/2] [warning] disk /tmp full"), std::string::npos) << out;
}

TEST(Logging, ParsesLevels) {
  EXPECT_EQ(log::parse_level("debug"), log::Level::kDebug);
  EXPECT_THROW(log::parse_level("loud"), std::exception);
}

}  // namespace
}  // namespace recforge
