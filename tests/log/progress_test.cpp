// Progress output: plain periodic lines without a terminal, a redrawn line with one.
#include <gtest/gtest.h>

#include "recforge/log/logging.hpp"
#include "recforge/log/progress.hpp"

namespace recforge {
namespace {

// The bar shows only when rank 0 logs at info level.
struct InfoLogging {
  InfoLogging() { log::init(0, 1, log::Level::kInfo); }
  ~InfoLogging() { log::init(0, 1, log::Level::kWarn); }
};

TEST(Progress, PlainModePrintsEveryTenPercentAndAFinalLine) {
  InfoLogging logging;
  Progress::force_tty(false);
  ::testing::internal::CaptureStdout();
  {
    Progress bar("epoch 1", 100, "batch");
    for (int i = 1; i <= 100; ++i) bar.update(i, {{"loss", 1.0 / i}});
    bar.finish({{"loss", 0.25}});
  }
  const std::string out = ::testing::internal::GetCapturedStdout();
  const auto lines = std::count(out.begin(), out.end(), '\n');
  EXPECT_GE(lines, 10);
  EXPECT_LE(lines, 12);
  EXPECT_EQ(out.find('\r'), std::string::npos);
  EXPECT_NE(out.find("epoch 1 100% 100/100"), std::string::npos) << out;
  EXPECT_NE(out.find("batch/s, loss 0.25\n"), std::string::npos) << out;
}

TEST(Progress, TtyModeRedrawsOneLine) {
  InfoLogging logging;
  Progress::force_tty(true);
  ::testing::internal::CaptureStdout();
  {
    Progress bar("eval", 10, "user");
    bar.finish();
  }
  const std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(out.rfind("\r\033[K", 0), 0u) << out;
  EXPECT_NE(out.find("[########################]"), std::string::npos) << out;
  Progress::force_tty(false);
}

TEST(Progress, SilentOnOtherRanks) {
  log::init(1, 2, log::Level::kInfo);
  ::testing::internal::CaptureStdout();
  {
    Progress bar("epoch", 10);
    bar.finish();
  }
  EXPECT_EQ(::testing::internal::GetCapturedStdout(), "");
  log::init(0, 1, log::Level::kWarn);
}

TEST(Progress, FormatsDurations) {
  EXPECT_EQ(format_duration(1.25), "1.2 s");
  EXPECT_EQ(format_duration(184), "3 m 04 s");
  EXPECT_EQ(format_duration(7500), "2 h 05 m");
}

}  // namespace
}  // namespace recforge
