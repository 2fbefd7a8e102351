// Checkpoints written by earlier recforge releases stay readable: golden/v1 is
// a format-1 version (ALS, k = 8, synthetic tiny preset, 2 iterations) written
// by the first release of the format and never regenerated. Every later
// reader must load it through the repository (manifest, SHA-256) and give the
// same contents; a future format 2 adds its migration test beside this one.
#include <gtest/gtest.h>

#include <cmath>

#include "recforge/checkpoint/checkpoint_file.hpp"
#include "recforge/checkpoint/repository.hpp"
#include "recforge/serve/snapshot.hpp"

namespace recforge::checkpoint {
namespace {

double sum_of(const Tensor& t) {
  double s = 0;
  for (std::int64_t i = 0; i < t.numel(); ++i) s += t.data_as<float>()[i];
  return s;
}

LoadedVersion golden() {
  CheckpointRepository repo(std::string(RECFORGE_GOLDEN_DIR) + "/v1");
  std::vector<std::string> rejected;
  const std::optional<LoadedVersion> v = repo.load_latest(&rejected);
  EXPECT_TRUE(rejected.empty()) << rejected.front();
  if (!v) throw std::runtime_error("golden v1 checkpoint does not load");
  return *v;
}

TEST(GoldenCheckpoint, Version1LoadsWithTheSameContents) {
  const LoadedVersion v = golden();
  EXPECT_EQ(v.version.name, "step-0000000002");
  EXPECT_EQ(v.manifest.format_version, 1);
  EXPECT_EQ(v.manifest.model_type, "als");
  const CheckpointReader reader(v.checkpoint_bytes, "golden/v1");
  EXPECT_EQ(reader.meta().format_version, 1);
  EXPECT_EQ(reader.meta().model_type, "als");
  EXPECT_EQ(reader.meta().world_size, 1);
  EXPECT_EQ(reader.meta().model_revision, 0);  // written before revisions were recorded
  EXPECT_EQ(reader.position().epoch, 2);
  EXPECT_EQ(reader.position().global_step, 2);
  EXPECT_EQ(reader.parameter_names(), (std::vector<std::string>{"als.item_factors", "als.user_factors"}));
  // The sums h5py reads from the same file (float64 accumulation).
  const ParameterState users = reader.parameter("als.user_factors", Shape{200, 8});
  const ParameterState items = reader.parameter("als.item_factors", Shape{299, 8});
  EXPECT_NEAR(sum_of(users.value), -1151.062841192237, 1e-3);
  EXPECT_NEAR(sum_of(items.value), -11.88465481461094, 1e-4);
  const data::IdMap user_ids = reader.users(), item_ids = reader.items();
  ASSERT_TRUE(user_ids.is_integer());
  EXPECT_EQ(user_ids.size(), 200);
  EXPECT_EQ(item_ids.size(), 299);
  EXPECT_EQ(user_ids.integer_id(0), 1);
  const Serving s = reader.serving();
  EXPECT_EQ(s.seen_offsets.size(), 201u);
  EXPECT_EQ(s.seen_offsets.back(), static_cast<std::int64_t>(s.seen_items.size()));
  EXPECT_EQ(sum_of(s.user_embeddings), sum_of(users.value));  // served as the factors
  EXPECT_EQ(s.item_bias_columns, 0);  // written before the attribute existed
  bool has_recall = false;
  for (const auto& [name, value] : reader.metrics()) has_recall |= name == "recall@10" && std::fabs(value - 0.235) < 1e-9;
  EXPECT_TRUE(has_recall);
}

TEST(GoldenCheckpoint, Version1IsServed) {
  const auto snapshot = serve::Snapshot::load(golden(), {});
  EXPECT_EQ(snapshot->num_users(), 200);
  EXPECT_EQ(snapshot->dim(), 8);
  EXPECT_TRUE(snapshot->can_fold_in());
  const auto top = snapshot->recommend(0, 10, true, false);
  ASSERT_EQ(top.size(), 10u);
  for (const auto& item : top) {
    for (const std::int32_t seen : snapshot->seen(0)) EXPECT_NE(item.item, seen);
  }
}

}  // namespace
}  // namespace recforge::checkpoint
