// RF_EXPECT_ERROR(statement, kind, "substring"): the statement throws a
// recforge::Error of that kind whose message contains the substring.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "recforge/core/error.hpp"

#define RF_EXPECT_ERROR(statement, expected_kind, substring)                                            \
  do {                                                                                                  \
    bool rf_thrown_ = false;                                                                            \
    try {                                                                                               \
      statement;                                                                                        \
    } catch (const ::recforge::Error& rf_error_) {                                                      \
      rf_thrown_ = true;                                                                                \
      EXPECT_EQ(rf_error_.kind(), (expected_kind)) << "message: " << rf_error_.what();                  \
      EXPECT_NE(std::string(rf_error_.what()).find(substring), std::string::npos)                       \
          << "expected the message to contain \"" << (substring) << "\"\n  actual: " << rf_error_.what(); \
    }                                                                                                   \
    EXPECT_TRUE(rf_thrown_) << #statement " did not throw";                                             \
  } while (0)
