// Item features (MovieLens genres, generic tags): each file format aligned with
// a dataset's dense item ids, RFC 4180 quoting, and the error each malformed
// input gets (path:line and the reason).
#include <gtest/gtest.h>

#include <fstream>

#include "recforge/data/item_features.hpp"
#include "testing/error_testing.hpp"
#include "testing/temp_dir.hpp"
#include "testing/training_job.hpp"

namespace recforge::data {
namespace {

class ItemFeaturesTest : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& text) {
    const std::string path = dir_.file(name);
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  // The dataset knows films 1, 2, 5 and 7 (dense 0..3).
  const IdMap items_ = IdMap::integers({1, 2, 5, 7});
  testing::TempDir dir_;
};

std::vector<std::int32_t> row(const ItemFeatures& f, std::int32_t item) {
  return {f.items.col.begin() + f.items.offsets[item], f.items.col.begin() + f.items.offsets[item + 1]};
}

TEST_F(ItemFeaturesTest, MoviesCsvWithQuotedTitles) {
  const std::string path = write("movies.csv",
                                 "movieId,title,genres\r\n"
                                 "1,Toy Story (1995),Adventure|Animation|Children\r\n"
                                 "2,\"American President, The (1995)\",Comedy|Drama|Romance\r\n"
                                 "3,Not Rated Here (2001),Horror\r\n"
                                 "5,\"Dr. \"\"Quote\"\", the Film (1990)\",Comedy\r\n"
                                 "7,Nothing Known (2010),(no genres listed)\r\n");
  const ItemFeatures f = read_item_features(path, ItemFeatureFormat::kAuto, items_);
  EXPECT_EQ(f.names, (std::vector<std::string>{"Adventure", "Animation", "Children", "Comedy", "Drama", "Romance"}));
  EXPECT_EQ(f.items.rows(), 4);
  EXPECT_EQ(row(f, 0), (std::vector<std::int32_t>{0, 1, 2}));
  EXPECT_EQ(row(f, 1), (std::vector<std::int32_t>{3, 4, 5}));
  EXPECT_EQ(row(f, 2), (std::vector<std::int32_t>{3}));
  EXPECT_TRUE(row(f, 3).empty());
  EXPECT_EQ(f.file_items, 5);
  EXPECT_EQ(f.unknown_items, 1);  // film 3: no interaction in the dataset
  EXPECT_EQ(f.items_without, 1);  // film 7
}

TEST_F(ItemFeaturesTest, MoviesDatAndUItem) {
  const std::string dat = write("movies.dat", "1::Toy Story (1995)::Animation|Comedy\n7::Heat (1995)::Action\n");
  const ItemFeatures d = read_item_features(dat, ItemFeatureFormat::kAuto, items_);
  EXPECT_EQ(d.names, (std::vector<std::string>{"Action", "Animation", "Comedy"}));
  EXPECT_EQ(row(d, 0), (std::vector<std::int32_t>{1, 2}));
  EXPECT_EQ(row(d, 3), (std::vector<std::int32_t>{0}));
  EXPECT_EQ(d.items_without, 2);

  // u.item's 19 flags, named by the published list without u.genre ...
  const std::string flags_1 = "|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0";
  const std::string flags_2 = "|0|1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|1";
  const std::string item = write("u.item", "1|Toy Story (1995)|01-Jan-1995||http://x" + flags_1 +
                                               "\n2|GoldenEye (1995)|01-Jan-1995||http://y" + flags_2 + "\n");
  const ItemFeatures u = read_item_features(item, ItemFeatureFormat::kAuto, items_);
  ASSERT_EQ(u.names.size(), 19u);
  EXPECT_EQ(u.names[3], "Animation");
  EXPECT_EQ(row(u, 0), (std::vector<std::int32_t>{3, 4, 5}));
  EXPECT_EQ(row(u, 1), (std::vector<std::int32_t>{1, 18}));
  // ... or by u.genre beside it.
  std::string genres;
  for (int g = 0; g < 19; ++g) genres += "g" + std::to_string(g) + "|" + std::to_string(g) + "\n";
  write("u.genre", genres);
  EXPECT_EQ(read_item_features(item, ItemFeatureFormat::kUItem, items_).names[18], "g18");
}

// Spreadsheets save "CSV UTF-8" with a byte order mark: the header's first name
// was not found, and movies.dat's first film lost its genres.
TEST_F(ItemFeaturesTest, AByteOrderMarkIsNotPartOfTheFirstField) {
  const std::string bom = "\xEF\xBB\xBF";
  const ItemFeatures csv =
      read_item_features(write("tags.csv", bom + "item,features\n1,a\n"), ItemFeatureFormat::kCsv, items_);
  EXPECT_EQ(csv.names, (std::vector<std::string>{"a"}));
  EXPECT_EQ(row(csv, 0), (std::vector<std::int32_t>{0}));
  const ItemFeatures dat = read_item_features(write("movies.dat", bom + "1::Toy Story (1995)::Comedy\n"),
                                              ItemFeatureFormat::kAuto, items_);
  EXPECT_EQ(row(dat, 0), (std::vector<std::int32_t>{0}));
  EXPECT_EQ(dat.unknown_items, 0);
}

TEST_F(ItemFeaturesTest, MalformedInputNamesTheFileAndLine) {
  const auto read = [&](const std::string& name, const std::string& text) {
    return read_item_features(write(name, text), ItemFeatureFormat::kAuto, items_);
  };
  RF_EXPECT_ERROR(read("movies.csv", "movieId,title,genres\n1,\"Open quote,Comedy\n"), ErrorKind::kData,
                  "movies.csv:2: unterminated or misplaced quote");
  RF_EXPECT_ERROR(read("movies.csv", "movieId,title,genres\n1,Toy Story,Comedy,Extra\n"), ErrorKind::kData,
                  "movies.csv:2: expected 3 fields, got 4");
  RF_EXPECT_ERROR(read("movies.csv", "id,name\n1,Toy Story\n"), ErrorKind::kData,
                  "movies.csv:1: expected a header with columns movieId and genres");
  RF_EXPECT_ERROR(read("movies.csv", "movieId,title,genres\n1,A,Comedy\n1,B,Drama\n"), ErrorKind::kData,
                  "movies.csv:3: item '1' is listed again (first at line 2)");
  RF_EXPECT_ERROR(read("movies.dat", "1::Toy Story\n"), ErrorKind::kData,
                  "movies.dat:1: expected 3 fields MovieID::Title::Genres, got 2");
  RF_EXPECT_ERROR(read("u.item", "1|Toy|d||u|0|0|0|2|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n"), ErrorKind::kData,
                  "u.item:1: genre flag 4 (Animation) is '2', expected 0 or 1");
  RF_EXPECT_ERROR(read("u.item", "1|Toy|d||u|0|0\n"), ErrorKind::kData, "u.item:1: expected 24 '|'-separated fields");
  RF_EXPECT_ERROR(read("genres.txt", "1 Comedy\n"), ErrorKind::kConfig, "cannot tell the format from the name");
  RF_EXPECT_ERROR(read_item_features(dir_.file("missing.csv"), ItemFeatureFormat::kAuto, items_), ErrorKind::kData,
                  "missing.csv");
}

TEST_F(ItemFeaturesTest, GenericCsvListsAndOneFeaturePerLineMerge) {
  const ItemFeatureColumns columns{.item = "sku", .features = "tags", .delimiter = '\t', .separator = ";"};
  const std::string path = write("tags.tsv",
                                 "tags\tname\tsku\n"
                                 "red;cotton\tShirt\t1\n"
                                 "\tNothing\t2\n"
                                 "wool\tScarf\t9\n"
                                 "\"cotton\"\tShirt again\t1\n"
                                 "blue\tSock\t5\n"
                                 "red\tSock\t5\n");
  const ItemFeatures f = read_item_features(path, ItemFeatureFormat::kCsv, items_, columns);
  EXPECT_EQ(f.names, (std::vector<std::string>{"blue", "cotton", "red"}));  // wool: item 9 only, not in the data
  EXPECT_EQ(row(f, 0), (std::vector<std::int32_t>{1, 2}));  // item 1: red;cotton, then cotton again
  EXPECT_TRUE(row(f, 1).empty());                            // item 2: an empty list
  EXPECT_EQ(row(f, 2), (std::vector<std::int32_t>{0, 2}));  // item 5 over two lines
  EXPECT_TRUE(row(f, 3).empty());                            // item 7: not in the file
  EXPECT_EQ(f.file_items, 4);                                // 1, 2, 9, 5: each counted once
  EXPECT_EQ(f.unknown_items, 1);                             // 9
  EXPECT_EQ(f.items_without, 2);
}

TEST_F(ItemFeaturesTest, GenericCsvErrorsNameTheColumnsAndLine) {
  const auto read = [&](const std::string& text, ItemFeatureColumns columns = {}) {
    return read_item_features(write("f.csv", text), ItemFeatureFormat::kCsv, items_, columns);
  };
  RF_EXPECT_ERROR(read("id,genres\n1,a\n"), ErrorKind::kData,
                  "f.csv:1: expected a header naming the columns 'item' and 'features' "
                  "(data.item_features.item_column, features_column), got 'id,genres'");
  RF_EXPECT_ERROR(read("item,features\n1,a|b\n2\n"), ErrorKind::kData, "f.csv:3: expected 2 fields, got 1");
  RF_EXPECT_ERROR(read("item,features\n,a\n"), ErrorKind::kData, "f.csv:2: empty item id");
  RF_EXPECT_ERROR(read("item,features\n1,\"a\n"), ErrorKind::kData, "f.csv:2: unterminated or misplaced quote");
  RF_EXPECT_ERROR(read(""), ErrorKind::kData, "f.csv");
  RF_EXPECT_ERROR(read("item,features\n1,a\n", {.separator = ""}), ErrorKind::kConfig,
                  "data.item_features.separator must not be empty");
  RF_EXPECT_ERROR(parse_item_feature_format("tags"), ErrorKind::kConfig,
                  "unknown item feature format 'tags' (auto, movies_csv, movies_dat, u_item, csv)");
}

TEST_F(ItemFeaturesTest, GenericCsvThroughTheDataConfig) {
  // Tab-separated, one feature per line, its own column names: every item of
  // the tiny synthetic data tagged by its raw id's parity.
  const data::Dataset base = testing::tiny_dataset(testing::tiny_job(""));
  std::string text = "movie\ttag\n";
  for (const std::int64_t id : base.items.integer_ids()) text += std::to_string(id) + (id % 2 ? "\todd\n" : "\teven\n");
  const std::string path = write("tags.tsv", text);
  const std::string yaml = "data:\n  format: synthetic\n  synthetic: {preset: tiny}\n  split: {method: leave_one_out}\n"
                           "  cache: false\n  item_features: {path: " + path +
                           ", format: csv, item_column: movie, features_column: tag, delimiter: \"\\t\"}\n";
  const data::Dataset d = data::prepare_dataset(resolve_job_config(load_config_string(yaml, "j.yaml")).section("data"), 42);
  ASSERT_TRUE(d.item_features);
  EXPECT_EQ(d.item_features->names, (std::vector<std::string>{"even", "odd"}));
  EXPECT_EQ(d.item_features->items_without, 0);
  for (std::int32_t item = 0; item < d.num_items(); ++item) {
    EXPECT_EQ(row(*d.item_features, item), (std::vector<std::int32_t>{d.items.integer_id(item) % 2 ? 1 : 0})) << item;
  }
  // The fingerprint covers the features (a checkpoint refuses other ones):
  // the same interactions tagged otherwise, or not at all, differ; the same
  // tags again do not.
  const auto fingerprint_with = [&](const std::string& tags) {
    write("tags.tsv", tags);
    return data::prepare_dataset(resolve_job_config(load_config_string(yaml, "j.yaml")).section("data"), 42).fingerprint;
  };
  EXPECT_EQ(fingerprint_with(text), d.fingerprint);
  EXPECT_NE(d.fingerprint, base.fingerprint);
  std::string swapped = "movie\ttag\n";
  for (const std::int64_t id : base.items.integer_ids()) swapped += std::to_string(id) + (id % 2 ? "\teven\n" : "\todd\n");
  EXPECT_NE(fingerprint_with(swapped), d.fingerprint);
}

TEST(SplitCsvLine, QuotesAndEmptyFields) {
  std::vector<std::string> f;
  ASSERT_TRUE(split_csv_line("a,\"b,c\",,\"d \"\"e\"\"\"", ',', f));
  EXPECT_EQ(f, (std::vector<std::string>{"a", "b,c", "", "d \"e\""}));
  ASSERT_TRUE(split_csv_line("x,", ',', f));
  EXPECT_EQ(f, (std::vector<std::string>{"x", ""}));
  EXPECT_FALSE(split_csv_line("\"open", ',', f));
  EXPECT_FALSE(split_csv_line("\"closed\"tail,x", ',', f));
}

}  // namespace
}  // namespace recforge::data
