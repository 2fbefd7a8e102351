// gtest main for every recforge test binary: quiet logging unless asked.
#include <gtest/gtest.h>

#include <cstdlib>

#include "recforge/log/logging.hpp"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const char* level = std::getenv("RECFORGE_TEST_LOG");
  recforge::log::init(0, 1, level ? recforge::log::parse_level(level) : recforge::log::Level::kWarn);
  return RUN_ALL_TESTS();
}
