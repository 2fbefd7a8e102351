// RF_FAULT parsing (the switch the reliability tests use).
#include <gtest/gtest.h>

#include "recforge/core/fault.hpp"
#include "testing/error_testing.hpp"

namespace recforge {
namespace {

TEST(Fault, ParsesKindRankStepAndPhase) {
  const fault::Fault f = fault::parse("kill:rank=1:step=137");
  EXPECT_EQ(f.kind, "kill");
  EXPECT_EQ(f.rank, 1);
  EXPECT_EQ(f.step, 137);
  const fault::Fault g = fault::parse("kill:rank=0:phase=after_data_before_commit");
  EXPECT_EQ(g.phase, "after_data_before_commit");
  EXPECT_EQ(g.step, -1);
  EXPECT_EQ(fault::parse("nan").rank, -1);
  EXPECT_EQ(fault::parse("nan").attempt, -1);
  const fault::Fault h = fault::parse("flip:rank=1:step=9:attempt=2");
  EXPECT_EQ(h.kind, "flip");
  EXPECT_EQ(h.attempt, 2);
  const fault::Fault d = fault::parse("delay:phase=load_before_data:ms=750");
  EXPECT_EQ(d.kind, "delay");
  EXPECT_EQ(d.delay_ms, 750);
  const fault::Fault a = fault::parse("alloc:rank=1:step=9:mb=8192");
  EXPECT_EQ(a.kind, "alloc");
  EXPECT_EQ(a.alloc_mb, 8192);
}

TEST(Fault, RejectsMalformedValues) {
  RF_EXPECT_ERROR(fault::parse("explode:rank=1"), ErrorKind::kConfig, "unknown fault 'explode'");
  RF_EXPECT_ERROR(fault::parse("kill:rank"), ErrorKind::kConfig, "expected key=value");
  RF_EXPECT_ERROR(fault::parse("kill:rank=x"), ErrorKind::kConfig, "'x' is not a number for rank");
  RF_EXPECT_ERROR(fault::parse("kill:when=3"), ErrorKind::kConfig, "unknown key 'when' (rank, step, phase, attempt, ms, mb)");
  RF_EXPECT_ERROR(fault::parse("delay:ms=soon"), ErrorKind::kConfig, "'soon' is not a number for ms");
  RF_EXPECT_ERROR(fault::parse("kill:attempt=first"), ErrorKind::kConfig, "'first' is not a number for attempt");
}

TEST(Fault, NothingFiresWithoutAConfiguredFault) {
  if (fault::configured()) GTEST_SKIP() << "RF_FAULT is set in this environment";
  EXPECT_EQ(fault::at_step(0, 0), "");
  EXPECT_EQ(fault::at_phase(0, "after_data_before_commit"), "");
}

}  // namespace
}  // namespace recforge
