// The preparation pipeline from a config: counts, cache reuse, fingerprints,
// and config errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "recforge/config/job_config.hpp"
#include "recforge/data/prepare.hpp"
#include "testing/error_testing.hpp"
#include "testing/temp_dir.hpp"

namespace recforge::data {
namespace {

class PrepareTest : public ::testing::Test {
 protected:
  ConfigNode data_config(const std::string& yaml, const std::string& cache_dir = "") {
    std::string text = "data:\n  cache_dir: " + (cache_dir.empty() ? dir_.file("cache") : cache_dir) + "\n";
    std::size_t pos = 0;
    while (pos < yaml.size()) {
      const std::size_t end = yaml.find('\n', pos);
      text += "  " + yaml.substr(pos, end - pos) + "\n";
      pos = end == std::string::npos ? yaml.size() : end + 1;
    }
    return resolve_job_config(load_config_string(text, "prepare_test.yaml")).section("data");
  }
  testing::TempDir dir_;
};

TEST_F(PrepareTest, SyntheticTinyWithLeaveOneOut) {
  PrepareReport report;
  const Dataset d = prepare_dataset(data_config("format: synthetic\nsynthetic: {preset: tiny}\n"
                                                "split: {method: leave_one_out, validation_item: true}"),
                                    42, &report);
  EXPECT_EQ(d.num_users(), 200);
  EXPECT_EQ(d.test.size(), 200);
  EXPECT_EQ(d.valid.size(), 200);
  EXPECT_EQ(d.num_interactions(), 6000);
  EXPECT_FALSE(report.from_cache);
  EXPECT_EQ(d.fingerprint.size(), 64u);
}

TEST_F(PrepareTest, SecondRunLoadsTheCacheWithIdenticalContent) {
  const ConfigNode c = data_config("format: synthetic\nsynthetic: {preset: tiny}\nsplit: {method: random}");
  PrepareReport first, second;
  const Dataset a = prepare_dataset(c, 1, &first);
  const Dataset b = prepare_dataset(c, 1, &second);
  EXPECT_FALSE(first.from_cache);
  EXPECT_TRUE(second.from_cache);
  EXPECT_EQ(first.cache_path, second.cache_path);
  EXPECT_EQ(a.fingerprint, b.fingerprint);
  EXPECT_EQ(a.train.item, b.train.item);
  EXPECT_EQ(a.test.rating, b.test.rating);
  EXPECT_EQ(a.users.integer_ids(), b.users.integer_ids());
  // Another seed is another dataset (and another cache entry).
  PrepareReport third;
  const Dataset other = prepare_dataset(c, 2, &third);
  EXPECT_NE(third.cache_path, first.cache_path);
  EXPECT_NE(other.fingerprint, a.fingerprint);
}

TEST_F(PrepareTest, AChangedInputFileIsNotServedFromTheCache) {
  const std::string path = dir_.file("ratings.csv");
  std::ofstream(path) << "userId,movieId,rating,timestamp\n1,1,4.0,1\n1,2,3.0,2\n2,1,5.0,3\n";
  const ConfigNode c = data_config("path: " + path + "\nsplit: {method: none}");
  EXPECT_EQ(prepare_dataset(c, 1).num_interactions(), 3);
  std::ofstream(path) << "userId,movieId,rating,timestamp\n1,1,4.0,1\n1,2,3.0,2\n2,1,5.0,3\n2,2,1.0,4\n";
  PrepareReport report;
  EXPECT_EQ(prepare_dataset(c, 1, &report).num_interactions(), 4);
  EXPECT_FALSE(report.from_cache);
  // Same size, same modification time (cp -p, rsync -t): other content still.
  struct stat before {};
  ASSERT_EQ(::stat(path.c_str(), &before), 0);
  std::ofstream(path) << "userId,movieId,rating,timestamp\n1,1,4.0,1\n1,2,3.0,2\n2,1,5.0,3\n2,3,1.0,4\n";
  const struct timespec times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  PrepareReport same_stamp;
  const Dataset d = prepare_dataset(c, 1, &same_stamp);
  EXPECT_FALSE(same_stamp.from_cache);
  EXPECT_EQ(d.items.integer_ids(), (std::vector<std::int64_t>{1, 2, 3}));
}

TEST_F(PrepareTest, ThresholdDedupAndKcoreFromConfig) {
  const std::string path = dir_.file("ratings.csv");
  std::ofstream(path) << "userId,movieId,rating,timestamp\n"
                         "1,10,5.0,1\n1,20,4.0,2\n1,10,4.5,3\n2,10,4.0,4\n2,20,5.0,5\n3,30,5.0,6\n3,10,1.0,7\n";
  PrepareReport report;
  const Dataset d = prepare_dataset(data_config("path: " + path + "\nimplicit_threshold: 4.0\nmin_user_interactions: 2\n"
                                                "min_item_interactions: 2\nsplit: {method: none}\ncache: false"),
                                    1, &report);
  EXPECT_EQ(report.below_threshold, 1);     // 3,10,1.0
  EXPECT_EQ(report.duplicates_removed, 1);  // 1,10 twice: last kept (4.5)
  EXPECT_EQ(d.num_users(), 2);              // user 3 has one row left -> k-core removes it
  EXPECT_EQ(d.items.integer_ids(), (std::vector<std::int64_t>{10, 20}));
  EXPECT_EQ(d.train.rating, (std::vector<float>{4.0f, 4.5f, 4.0f, 5.0f}));
}

// A filter that removes every row is a data error naming the filters' counts,
// not a model trained on nothing with exit 0.
TEST_F(PrepareTest, NothingLeftToTrainOnIsADataError) {
  const std::string path = dir_.file("ratings.csv");
  std::ofstream(path) << "userId,movieId,rating,timestamp\n1,1,4.0,1\n1,2,3.0,2\n2,1,5.0,3\n2,2,1.0,4\n";
  RF_EXPECT_ERROR(prepare_dataset(data_config("path: " + path + "\nmin_user_interactions: 3\nsplit: {method: none}\n"
                                              "cache: false"), 1),
                  ErrorKind::kData,
                  "no training interactions are left (4 rows read; removed: 0 below data.implicit_threshold, 0 "
                  "duplicates, 4 by k-core (data.min_user_interactions 3");
  RF_EXPECT_ERROR(prepare_dataset(data_config("path: " + path + "\nimplicit_threshold: 5.5\nsplit: {method: none}\n"
                                              "cache: false"), 1),
                  ErrorKind::kData, "4 below data.implicit_threshold");
}

TEST_F(PrepareTest, ConfigErrorsNameTheKey) {
  RF_EXPECT_ERROR(prepare_dataset(data_config("split: {method: none}"), 1), ErrorKind::kConfig, "data.path is required");
  RF_EXPECT_ERROR(prepare_dataset(data_config("path: a.txt\ntest_path: b.txt"), 1), ErrorKind::kConfig,
                  "needs split.method: given");
  RF_EXPECT_ERROR(prepare_dataset(data_config("path: ${RECFORGE_NO_SUCH_VAR}/x.csv"), 1), ErrorKind::kConfig,
                  "data.path: environment variable RECFORGE_NO_SUCH_VAR");
  RF_EXPECT_ERROR(prepare_dataset(data_config("path: a.txt\nsplit: {method: leave_one_out, validation_item: true, "
                                              "min_history: 2}"), 1),
                  ErrorKind::kConfig, "data.split.min_history 2 would hold out all of a user's 2 interaction(s); it "
                                      "must be at least 3 with validation_item (or 0 for that)");
  // Synthetic data is one generated table: a test file would have been read past the tables (no error before).
  RF_EXPECT_ERROR(prepare_dataset(data_config("format: synthetic\nsynthetic: {preset: tiny}\ntest_path: t.txt\n"
                                              "split: {method: given}"), 1),
                  ErrorKind::kConfig, "prepare_test.yaml:5:14: data.test_path: a pre-split dataset's test file, but "
                                      "format: synthetic generates one table that data.split divides");
  // Ratios that leave nothing to train on are refused before the file is read (it does not exist here).
  RF_EXPECT_ERROR(prepare_dataset(data_config("path: /nonexistent/ratings.csv\nsplit: {method: random, "
                                              "test_ratio: 0.6, valid_ratio: 0.5}"), 1),
                  ErrorKind::kConfig, "prepare_test.yaml:4:57: data.split.valid_ratio: test_ratio 0.6 + "
                                      "valid_ratio 0.5 leave nothing to train on; their sum must be below 1");
  RF_EXPECT_ERROR(data_config("formt: csv"), ErrorKind::kConfig, "unknown key 'data.formt'; did you mean 'format'?");
  RF_EXPECT_ERROR(data_config("split: {method: loo}"), ErrorKind::kConfig, "data.split.method: expected one of");
}

// A cache directory that cannot be made (here: under a regular file, which
// root cannot get past either) costs the cache, not the job.
TEST_F(PrepareTest, AnUnwritableCacheDirectoryPreparesUncached) {
  std::ofstream(dir_.file("blocker")) << "a file, not a directory";
  const ConfigNode c = data_config("format: synthetic\nsynthetic: {preset: tiny}\nsplit: {method: leave_one_out}",
                                   dir_.file("blocker") + "/cache");
  for (int run = 0; run < 2; ++run) {  // the second looks the cache up again, through the file
    PrepareReport report;
    const Dataset d = prepare_dataset(c, 42, &report);
    EXPECT_EQ(d.num_interactions(), 6000);
    EXPECT_FALSE(report.from_cache);
    EXPECT_THAT(report.cache_error, ::testing::HasSubstr("cannot create the cache directory " + dir_.file("blocker")));
    EXPECT_FALSE(std::filesystem::exists(report.cache_path));
  }
}

// A leave-one-out split ignores the ratios: their sum is not its business.
TEST_F(PrepareTest, RatiosDoNotConcernLeaveOneOut) {
  const Dataset d = prepare_dataset(data_config("format: synthetic\nsynthetic: {preset: tiny}\nsplit: {method: "
                                                "leave_one_out, test_ratio: 0.6, valid_ratio: 0.5}\ncache: false"),
                                    42);
  EXPECT_EQ(d.test.size(), 200);
}

TEST_F(PrepareTest, ExpandPathUsesTheEnvironment) {
  ::setenv("RECFORGE_TEST_DIR", "/data/x", 1);
  EXPECT_EQ(expand_path("${RECFORGE_TEST_DIR}/ratings.csv", "k"), "/data/x/ratings.csv");
  EXPECT_EQ(expand_path("plain/path", "k"), "plain/path");
  RF_EXPECT_ERROR(expand_path("${OPEN", "data.path"), ErrorKind::kConfig, "data.path: unterminated ${");
}

TEST_F(PrepareTest, CacheRoundTripKeepsStringIds) {
  Dataset d;
  d.name = "strings";
  d.fingerprint = "f";
  d.users = IdMap::strings({"ann", "bob"});
  d.items = IdMap::strings({"x", "y", "z"});
  d.train = InteractionTable{{0, 1}, {2, 0}, {1.5f, 2.0f}, {}};
  d.test = InteractionTable{{1}, {1}, {3.0f}, {}};
  save_dataset(d, dir_.file("d.h5"), "opts");
  const Dataset back = load_dataset(dir_.file("d.h5"));
  EXPECT_EQ(back.users.string_ids(), d.users.string_ids());
  EXPECT_EQ(back.items.string_ids(), d.items.string_ids());
  EXPECT_EQ(back.train.item, d.train.item);
  EXPECT_EQ(back.train.rating, d.train.rating);
  EXPECT_FALSE(back.train.has_timestamps());
  EXPECT_EQ(back.test.user, d.test.user);
}

TEST_F(PrepareTest, CorruptCacheIsRejected) {
  std::ofstream(dir_.file("bad.h5")) << "not hdf5";
  RF_EXPECT_ERROR(load_dataset(dir_.file("bad.h5")), ErrorKind::kHdf5, "cannot open HDF5 file");
}

}  // namespace
}  // namespace recforge::data
