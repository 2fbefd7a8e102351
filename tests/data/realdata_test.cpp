// The real datasets in $RECFORGE_DATA_DIR prepare to their published counts.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "recforge/config/job_config.hpp"
#include "recforge/data/item_features.hpp"
#include "recforge/data/prepare.hpp"
#include "testing/temp_dir.hpp"

namespace recforge::data {
namespace {

class RealData : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* dir = std::getenv("RECFORGE_DATA_DIR");
    if (dir == nullptr || !std::filesystem::is_directory(dir)) GTEST_SKIP() << "RECFORGE_DATA_DIR is not set";
  }
  Dataset prepare(const std::string& data_yaml) {
    const std::string text = "data:\n  cache_dir: " + cache_.file("c") + "\n" + data_yaml;
    return prepare_dataset(resolve_job_config(load_config_string(text, "realdata.yaml")).section("data"), 42);
  }
  testing::TempDir cache_;
};

TEST_F(RealData, MovieLens100kUdata) {
  const Dataset d = prepare("  path: ${RECFORGE_DATA_DIR}/ml-100k/u.data\n  split: {method: none}\n");
  EXPECT_EQ(d.num_users(), 943);
  EXPECT_EQ(d.num_items(), 1682);
  EXPECT_EQ(d.train.size(), 100000);
  EXPECT_TRUE(d.train.has_ratings());
  EXPECT_TRUE(d.train.has_timestamps());
}

TEST_F(RealData, MovieLensLatestSmallInTheMl25mLayout) {
  const Dataset d = prepare("  path: ${RECFORGE_DATA_DIR}/ml-latest-small/ratings.csv\n  split: {method: none}\n");
  EXPECT_EQ(d.num_users(), 610);
  EXPECT_EQ(d.num_items(), 9724);
  EXPECT_EQ(d.train.size(), 100836);
  EXPECT_EQ(d.users.find("610"), 609);
}

TEST_F(RealData, MovieLensGenresAlignWithTheItems) {
  const Dataset small = prepare("  path: ${RECFORGE_DATA_DIR}/ml-latest-small/ratings.csv\n  split: {method: none}\n"
                                "  item_features: {path: \"${RECFORGE_DATA_DIR}/ml-latest-small/movies.csv\"}\n");
  ASSERT_NE(small.item_features, nullptr);
  EXPECT_EQ(small.item_features->num_features(), 19);  // 20 tokens but "(no genres listed)"
  EXPECT_EQ(small.item_features->items.rows(), 9724);
  EXPECT_EQ(small.item_features->file_items, 9742);
  EXPECT_EQ(small.item_features->unknown_items, 18);   // films nobody rated
  EXPECT_EQ(small.item_features->items_without, 34);   // rated films with no genre
  const Dataset ml100k = prepare("  path: ${RECFORGE_DATA_DIR}/ml-100k/u.data\n  split: {method: none}\n"
                                 "  item_features: {path: \"${RECFORGE_DATA_DIR}/ml-100k/u.item\"}\n");
  ASSERT_NE(ml100k.item_features, nullptr);
  EXPECT_EQ(ml100k.item_features->names.front(), "unknown");  // u.genre's order
  EXPECT_EQ(ml100k.item_features->names.back(), "Western");
  EXPECT_EQ(ml100k.item_features->items_without, 0);
  // Film 1 (Toy Story): Animation, Children's, Comedy.
  const std::int32_t toy_story = *ml100k.items.find("1");
  const Csr& genres = ml100k.item_features->items;
  std::vector<std::string> names;
  for (auto k = genres.offsets[toy_story]; k < genres.offsets[toy_story + 1]; ++k) {
    names.push_back(ml100k.item_features->names[static_cast<std::size_t>(genres.col[k])]);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"Animation", "Children's", "Comedy"}));
}

TEST_F(RealData, GowallaKeepsItsPublishedSplit) {
  const Dataset d = prepare("  path: ${RECFORGE_DATA_DIR}/gowalla/train.txt\n  test_path: ${RECFORGE_DATA_DIR}/gowalla/test.txt\n"
                            "  split: {method: given}\n");
  EXPECT_EQ(d.num_users(), 29858);
  EXPECT_EQ(d.num_items(), 40981);
  EXPECT_EQ(d.train.size(), 810128);
  EXPECT_EQ(d.test.size(), 217242);
  EXPECT_EQ(d.users.integer_id(0), 0);  // 0-based ids kept as the original ids
}

}  // namespace
}  // namespace recforge::data
