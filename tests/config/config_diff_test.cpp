// config_differences: what a job whose ranks disagree on their config reports.
#include <gtest/gtest.h>

#include "recforge/config/config_diff.hpp"
#include "recforge/config/job_config.hpp"

namespace recforge {
namespace {

TEST(ConfigDiff, LeavesAreDottedPaths) {
  const auto leaves = config_leaves("run:\n  name: a\n  seed: 42\ndata:\n  split:\n    method: leave_one_out\n"
                                    "eval:\n  k: [10, 20]\nplugins: []\n");
  const std::map<std::string, std::string> want = {{"run.name", "a"}, {"run.seed", "42"},
                                                   {"data.split.method", "leave_one_out"}, {"eval.k", "[10, 20]"},
                                                   {"plugins", "[]"}};
  EXPECT_EQ(leaves, want);
}

TEST(ConfigDiff, NamesEachDifferingKeyWithBothValues) {
  const ConfigNode a = resolve_job_config(load_config_string("model: {type: mf, factors: 8}\n", "a.yaml"));
  const ConfigNode b = resolve_job_config(
      load_config_string("model: {type: mf, factors: 16}\ncheckpoint: {dir: /tmp/b}\n", "b.yaml"));
  const auto differences = config_differences(a.to_yaml(), "rank 0", b.to_yaml(), "rank 1");
  ASSERT_EQ(differences.size(), 2u) << ::testing::PrintToString(differences);
  EXPECT_EQ(differences[0], "checkpoint.dir: \"\" on rank 0, /tmp/b on rank 1");
  EXPECT_EQ(differences[1], "model.factors: 8 on rank 0, 16 on rank 1");
  EXPECT_TRUE(config_differences(a.to_yaml(), "x", a.to_yaml(), "y").empty());
}

}  // namespace
}  // namespace recforge
