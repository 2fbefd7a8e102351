// recforge::Error: kinds, messages, and file:line of the check that failed.
#include <gtest/gtest.h>

#include "recforge/core/error.hpp"

namespace recforge {
namespace {

TEST(Error, CheckThrowsWithMessageFileAndLine) {
  try {
    const int got = -3;
    RF_CHECK(got > 0, "expected a positive dim, got ", got);
    FAIL() << "RF_CHECK did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_EQ(e.message(), "expected a positive dim, got -3");
    EXPECT_EQ(std::string(e.file()), "tests/core/error_test.cpp");
    EXPECT_GT(e.line(), 0);
    EXPECT_NE(std::string(e.what()).find("[tests/core/error_test.cpp:"), std::string::npos) << e.what();
  }
}

TEST(Error, AssertIsAnInternalError) {
  try {
    RF_ASSERT(1 + 1 == 3);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInternal);
    EXPECT_NE(e.message().find("1 + 1 == 3"), std::string::npos);
    EXPECT_NE(e.message().find("recforge bug"), std::string::npos);
  }
}

// An agreed check throws the subclass the job runner ends in order; a caller
// that only knows Error still catches it with its kind and message.
TEST(Error, AgreedCheckThrowsAnAgreedErrorOfItsKind) {
  const long non_finite = 2;
  try {
    RF_CHECK_AGREED(ErrorKind::kNumerical, non_finite == 0, "step 7: ", non_finite, " non-finite values");
    FAIL() << "RF_CHECK_AGREED did not throw";
  } catch (const AgreedError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNumerical);
    EXPECT_EQ(e.message(), "step 7: 2 non-finite values");
  }
  EXPECT_THROW(RF_THROW_AGREED(ErrorKind::kConfig, "ranks differ"), Error);
  // A plain check is not an agreed one: it must keep the fast abort.
  try {
    RF_CHECK_KIND(ErrorKind::kNumerical, false, "local");
    FAIL() << "RF_CHECK_KIND did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(dynamic_cast<const AgreedError*>(&e), nullptr);
  }
}

TEST(Error, PassingChecksDoNothing) {
  EXPECT_NO_THROW(RF_CHECK(true, "never"));
  EXPECT_NO_THROW(RF_ASSERT(true));
  EXPECT_NO_THROW(RF_CHECK_AGREED(ErrorKind::kNumerical, true, "never"));
}

}  // namespace
}  // namespace recforge
