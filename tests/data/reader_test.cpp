// Readers: known answers for every format, and the exact error each bad input
// gets (RELIABILITY I3), plus chunked parallel reading = sequential reading (I5).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "recforge/data/reader.hpp"
#include "testing/error_testing.hpp"
#include "testing/temp_dir.hpp"

namespace recforge::data {
namespace {

class ReaderTest : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& content) {
    const auto path = dir_.path() / name;
    std::ofstream(path, std::ios::binary) << content;
    return path.string();
  }
  RawInteractions read(const std::string& name, const std::string& content, ReadOptions options = {}) {
    return read_raw_interactions(write(name, content), options);
  }
  testing::TempDir dir_;
};

TEST_F(ReaderTest, MovieLensCsv) {
  const auto raw = read("ratings.csv", "userId,movieId,rating,timestamp\n1,31,2.5,1260759144\n1,1029,3.0,1260759179\n7,5,0.5,3\n");
  EXPECT_EQ(raw.report.format, Format::kMovieLensCsv);
  EXPECT_EQ(raw.users.integers, (std::vector<std::int64_t>{1, 1, 7}));
  EXPECT_EQ(raw.items.integers, (std::vector<std::int64_t>{31, 1029, 5}));
  EXPECT_EQ(raw.rating, (std::vector<float>{2.5f, 3.0f, 0.5f}));
  EXPECT_EQ(raw.timestamp, (std::vector<std::int64_t>{1260759144, 1260759179, 3}));
  EXPECT_EQ(raw.report.lines, 3);
  EXPECT_EQ(raw.report.content_sha256.size(), 64u);
}

TEST_F(ReaderTest, MovieLensCsvHeaderInAnyOrder) {
  const auto raw = read("ratings.csv", "timestamp,rating,movieId,userId\n99,4.5,20,10\n");
  EXPECT_EQ(raw.users.integers, (std::vector<std::int64_t>{10}));
  EXPECT_EQ(raw.items.integers, (std::vector<std::int64_t>{20}));
  EXPECT_EQ(raw.rating, (std::vector<float>{4.5f}));
  EXPECT_EQ(raw.timestamp, (std::vector<std::int64_t>{99}));
}

TEST_F(ReaderTest, MovieLensDatAndUdata) {
  const auto dat = read("ratings.dat", "1::1193::5::978300760\n2::661::3::978302109\n");
  EXPECT_EQ(dat.report.format, Format::kMovieLensDat);
  EXPECT_EQ(dat.items.integers, (std::vector<std::int64_t>{1193, 661}));
  const auto udata = read("u.data", "196\t242\t3\t881250949\n186\t302\t3\t891717742\n");
  EXPECT_EQ(udata.report.format, Format::kMovieLens100k);
  EXPECT_EQ(udata.users.integers, (std::vector<std::int64_t>{196, 186}));
  EXPECT_EQ(udata.rating, (std::vector<float>{3, 3}));
}

TEST_F(ReaderTest, CrlfBomAndNoTrailingNewline) {
  const auto raw = read("ratings.csv", "\xEF\xBB\xBFuserId,movieId,rating,timestamp\r\n1,2,4.0,5\r\n3,4,1.5,6");
  EXPECT_EQ(raw.users.integers, (std::vector<std::int64_t>{1, 3}));
  EXPECT_EQ(raw.timestamp, (std::vector<std::int64_t>{5, 6}));
}

TEST_F(ReaderTest, GenericCsvByNameWithQuotesAndStringIds) {
  ReadOptions o;
  o.format = Format::kCsv;
  o.user_column = "who";
  o.item_column = "what";
  o.rating_column = "score";
  o.integer_ids = false;
  const auto raw = read("x.csv", "what,who,score\n\"a,b\",alice,1.5\nbook,\"bob \"\"B\"\"\",2\n", o);
  EXPECT_EQ(raw.users.strings, (std::vector<std::string>{"alice", "bob \"B\""}));
  EXPECT_EQ(raw.items.strings, (std::vector<std::string>{"a,b", "book"}));
  EXPECT_EQ(raw.rating, (std::vector<float>{1.5f, 2.0f}));
  EXPECT_TRUE(raw.timestamp.empty());
}

TEST_F(ReaderTest, GenericTsvByIndexWithoutHeader) {
  ReadOptions o;
  o.format = Format::kTsv;
  o.header = false;
  o.user_column = "2";
  o.item_column = "0";
  o.timestamp_column = "1";
  const auto raw = read("x.tsv", "7\t100\t3\n8\t200\t4\n", o);
  EXPECT_EQ(raw.users.integers, (std::vector<std::int64_t>{3, 4}));
  EXPECT_EQ(raw.items.integers, (std::vector<std::int64_t>{7, 8}));
  EXPECT_EQ(raw.timestamp, (std::vector<std::int64_t>{100, 200}));
  EXPECT_TRUE(raw.rating.empty());
}

TEST_F(ReaderTest, Adjacency) {
  const auto raw = read("train.txt", "0 5 6 7\n1 5\r\n2\n\n3 9 ");
  EXPECT_EQ(raw.report.format, Format::kAdjacency);
  EXPECT_EQ(raw.users.integers, (std::vector<std::int64_t>{0, 0, 0, 1, 3}));
  EXPECT_EQ(raw.items.integers, (std::vector<std::int64_t>{5, 6, 7, 5, 9}));
  EXPECT_EQ(raw.report.lines, 5);
}

// --- bad inputs: each gets file:line:column and the reason ---

struct BadCase {
  const char* name;
  const char* file;
  std::string content;
  const char* message;
};

class BadInput : public ReaderTest, public ::testing::WithParamInterface<BadCase> {};

TEST_P(BadInput, IsRejectedWithFileLineColumnAndReason) {
  const BadCase& c = GetParam();
  const std::string path = write(c.file, c.content);
  RF_EXPECT_ERROR(read_raw_interactions(path, {}), ErrorKind::kData, std::string(c.file) + ":" + c.message);
}

const std::string kHeader = "userId,movieId,rating,timestamp\n";

INSTANTIATE_TEST_SUITE_P(
    Table, BadInput,
    ::testing::Values(
        BadCase{"HeaderMissing", "ratings.csv", "1,2,4.0,5\n", "1:1: expected the MovieLens header"},
        BadCase{"ThreeFields", "ratings.csv", kHeader + "1,2,4.0\n", "2:1: expected 4 fields separated by ',', found 3"},
        BadCase{"FiveFields", "ratings.csv", kHeader + "1,2,4.0,5,6\n", "2:1: expected 4 fields separated by ',', found 5"},
        BadCase{"WrongDelimiter", "ratings.csv", kHeader + "1;2;4.0;5\n",
                "2:1: expected 4 fields separated by ',', found 1 (the line contains ';'"},
        BadCase{"EmptyUser", "ratings.csv", kHeader + ",2,4.0,5\n", "2:1: empty user id"},
        BadCase{"EmptyRating", "ratings.csv", kHeader + "1,2,,5\n", "2:5: empty rating"},
        BadCase{"NonNumericUser", "ratings.csv", kHeader + "abc,2,4.0,5\n", "2:1: user id 'abc' is not a non-negative integer"},
        BadCase{"NegativeItem", "ratings.csv", kHeader + "1,-2,4.0,5\n", "2:3: item id '-2' is negative"},
        BadCase{"HugeId", "ratings.csv", kHeader + "99999999999999999999,2,4.0,5\n",
                "2:1: user id '99999999999999999999' does not fit in a 64-bit integer"},
        BadCase{"QuotedIdInMovieLens", "ratings.csv", kHeader + "\"1\",2,4.0,5\n", "2:1: user id '\"1\"' is not"},
        BadCase{"NanRating", "ratings.csv", kHeader + "1,2,nan,5\n", "2:5: rating 'nan' is not a finite number"},
        BadCase{"InfRating", "ratings.csv", kHeader + "1,2,inf,5\n", "2:5: rating 'inf' is not a finite number"},
        BadCase{"HugeRating", "ratings.csv", kHeader + "1,2,1e309,5\n", "2:5: rating '1e309' is not a finite number"},
        // Found by the ratings fuzzer: finite as a double, inf as the f32 kept.
        BadCase{"RatingBeyondFloat", "ratings.csv", kHeader + "1,2,3e69,5\n", "2:5: rating '3e69' does not fit in a 32-bit float"},
        BadCase{"NegativeZeroRating", "ratings.csv", kHeader + "1,2,-0,5\n", "2:5: rating -0 is outside [0.5, 5]"},
        BadCase{"ZeroRating", "ratings.csv", kHeader + "1,2,0,5\n", "2:5: rating 0 is outside [0.5, 5]"},
        BadCase{"RatingAboveMax", "ratings.csv", kHeader + "1,2,5.5,5\n", "2:5: rating 5.5 is outside [0.5, 5]"},
        BadCase{"RatingOffGrid", "ratings.csv", kHeader + "1,2,4.25,5\n", "2:5: rating 4.25 is not a multiple of 0.5"},
        BadCase{"HalfStarInUdata", "u.data", "1\t2\t3.5\t5\n", "1:5: rating 3.5 is not a multiple of 1"},
        BadCase{"NegativeTimestamp", "ratings.csv", kHeader + "1,2,4.0,-5\n", "2:9: timestamp -5 is negative"},
        BadCase{"OverflowingTimestamp", "ratings.csv", kHeader + "1,2,4.0,99999999999999999999\n",
                "2:9: timestamp '99999999999999999999' does not fit in a 64-bit integer"},
        BadCase{"TextTimestamp", "ratings.csv", kHeader + "1,2,4.0,yesterday\n", "2:9: timestamp 'yesterday' is not an integer"},
        BadCase{"NulByte", "ratings.csv", kHeader + "1,2,4.0,5\n1,2" + std::string(1, '\0') + ",4.0,5\n",
                "3:4: NUL byte in line"},
        BadCase{"LongLine", "ratings.csv", kHeader + "1,2,4.0," + std::string(10 << 20, '7') + "\n",
                "2:1: line is 10485768 bytes, longer than max_line_bytes (1048576)"},
        BadCase{"DatWithCommas", "ratings.dat", "1,2,3,4\n",
                "1:1: expected 4 fields separated by '::', found 1 (the line contains ','"},
        BadCase{"AdjacencyLetters", "train.txt", "0 1 2\n1 x\n", "2:3: item id 'x' is not a non-negative integer"},
        BadCase{"OnlyHeader", "ratings.csv", kHeader, " no data lines after the header"},
        // Found by the ratings fuzzer: users without items parsed to an empty dataset.
        BadCase{"AdjacencyWithoutItems", "train.txt", "0 \n239 \n", " no interactions (2 lines"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(ReaderTest, MissingAndEmptyFiles) {
  RF_EXPECT_ERROR(read_raw_interactions((dir_.path() / "ratings.csv").string(), {}), ErrorKind::kData,
                  "cannot open data file");
  RF_EXPECT_ERROR(read("ratings.csv", ""), ErrorKind::kData, "ratings.csv' is empty");
  RF_EXPECT_ERROR(read_raw_interactions(dir_.path().string(), ReadOptions{.format = Format::kCsv}), ErrorKind::kData,
                  "is not a regular file");
}

TEST_F(ReaderTest, UnknownExtensionNeedsAFormat) {
  RF_EXPECT_ERROR(read("ratings.parquet", "x"), ErrorKind::kConfig, "cannot tell the format");
  const auto given = read("export.data", "user,item\n1,2\n", ReadOptions{.format = Format::kCsv});
  EXPECT_EQ(given.items.integers, (std::vector<std::int64_t>{2}));
}

// format auto: a renamed MovieLens download is read as MovieLens (ratings
// checked against its range, timestamps kept), by its header.
TEST_F(ReaderTest, ARenamedMovieLensCsvIsReadAsMovieLens) {
  const auto raw = read("ml25m_ratings.csv", "\xEF\xBB\xBFmovieId,userId,rating,timestamp\r\n31,1,2.5,7\r\n");
  EXPECT_EQ(raw.report.format, Format::kMovieLensCsv);
  EXPECT_EQ(raw.users.integers, (std::vector<std::int64_t>{1}));
  EXPECT_EQ(raw.items.integers, (std::vector<std::int64_t>{31}));
  EXPECT_EQ(raw.rating, (std::vector<float>{2.5f}));
  EXPECT_EQ(raw.timestamp, (std::vector<std::int64_t>{7}));
  RF_EXPECT_ERROR(read("ml25m_ratings.csv", "userId,movieId,rating,timestamp\n1,2,9,3\n"), ErrorKind::kData,
                  "ml25m_ratings.csv:2:");
  // Any other header stays generic, and so does a file whose columns the user mapped.
  EXPECT_EQ(read("plain.csv", "user,item\n1,2\n").report.format, Format::kCsv);
  RF_EXPECT_ERROR(read("three.csv", "userId,movieId,rating\n1,2,3\n"), ErrorKind::kData,
                  "three.csv:1: the header has no column 'user' (data.columns.user)");
  ReadOptions mapped;
  mapped.user_column = "userId";
  mapped.item_column = "movieId";
  const auto own = read("mine.csv", "userId,movieId,rating,timestamp\n1,2,9,3\n", mapped);
  EXPECT_EQ(own.report.format, Format::kCsv);
  EXPECT_EQ(own.items.integers, (std::vector<std::int64_t>{2}));
  EXPECT_TRUE(own.rating.empty());
}

TEST_F(ReaderTest, InvalidUtf8InStringIds) {
  ReadOptions o;
  o.format = Format::kCsv;
  o.integer_ids = false;
  RF_EXPECT_ERROR(read("x.csv", "user,item\nok,\xC3\x28\n", o), ErrorKind::kData, "x.csv:2:4: item id is not valid UTF-8");
}

TEST_F(ReaderTest, NonNumericIdInGenericCsvSuggestsStringIds) {
  ReadOptions o;
  o.format = Format::kCsv;
  RF_EXPECT_ERROR(read("x.csv", "user,item\nu1,5\n", o), ErrorKind::kData, "set data.id_type: string");
}

TEST_F(ReaderTest, GenericCsvMissingColumnListsTheHeader) {
  ReadOptions o;
  o.format = Format::kCsv;
  RF_EXPECT_ERROR(read("x.csv", "uid,iid\n1,2\n", o), ErrorKind::kData,
                  "x.csv:1: the header has no column 'user' (data.columns.user); its columns are: uid, iid");
}

// A first line that cannot be split (too many fields, an open quote) is named
// as such, not as a header without the mapped columns.
TEST_F(ReaderTest, AnUnsplittableFirstLineIsNamed) {
  ReadOptions o;
  o.format = Format::kCsv;
  std::string wide = "user,item";
  for (int c = 2; c < 70; ++c) wide += ",c" + std::to_string(c);
  RF_EXPECT_ERROR(read("wide.csv", wide + "\n1,2\n", o), ErrorKind::kData, "wide.csv:1:");
  RF_EXPECT_ERROR(read("wide.csv", wide + "\n1,2\n", o), ErrorKind::kData, ": more than 64 fields");
  RF_EXPECT_ERROR(read("quote.csv", "user,\"item\n1,2\n", o), ErrorKind::kData,
                  "quote.csv:1:6: unterminated quoted field");
  o.header = false;
  o.user_column = "0";
  o.item_column = "1";
  RF_EXPECT_ERROR(read("wide2.csv", wide + "\n", o), ErrorKind::kData, "wide2.csv:1:");
}

// A column mapping must be unambiguous: a header naming a column twice, or
// two roles on one column (a dataset of self-pairs), are errors.
TEST_F(ReaderTest, GenericCsvColumnsMustBeDistinct) {
  ReadOptions o;
  o.format = Format::kCsv;
  RF_EXPECT_ERROR(read("x.csv", "user,item,user\n1,2,3\n", o), ErrorKind::kData,
                  "x.csv:1: the header names column 'user' twice (1 and 3), so data.columns.user cannot tell which");
  o.item_column = "user";
  RF_EXPECT_ERROR(read("y.csv", "user,item\n1,2\n", o), ErrorKind::kConfig,
                  "y.csv: data.columns.user and data.columns.item name the same column (1)");
  o.header = false;
  o.user_column = "0";
  o.item_column = "1";
  o.rating_column = "1";
  RF_EXPECT_ERROR(read("z.csv", "1,2\n", o), ErrorKind::kConfig,
                  "z.csv: data.columns.item and data.columns.rating name the same column (2)");
}

TEST_F(ReaderTest, SkipPolicyCountsAndReportsTheFirstBadLines) {
  ReadOptions o;
  o.on_bad_line = BadLinePolicy::kSkip;
  o.max_bad_lines = 10;
  const auto raw = read("ratings.csv", kHeader + "1,2,4.0,5\nx,2,4.0,5\n3,4,9.0,5\n5,6,1.0,7\n", o);
  EXPECT_EQ(raw.users.integers, (std::vector<std::int64_t>{1, 5}));
  EXPECT_EQ(raw.report.bad_lines, 2);
  ASSERT_EQ(raw.report.bad_examples.size(), 2u);
  EXPECT_NE(raw.report.bad_examples[0].find("ratings.csv:3:1: user id 'x'"), std::string::npos);
  EXPECT_NE(raw.report.bad_examples[1].find("ratings.csv:4:5: rating 9.0 is outside"), std::string::npos);
  o.max_bad_lines = 1;
  RF_EXPECT_ERROR(read("ratings.csv", kHeader + "1,2,4.0,5\nx,2,4.0,5\n3,4,9.0,5\n", o), ErrorKind::kData,
                  "2 bad lines, more than max_bad_lines (1)");
}

// Adjacency lists skip the same way: a bad line adds none of its items.
TEST_F(ReaderTest, SkipPolicyInAdjacencyLists) {
  ReadOptions o;
  o.on_bad_line = BadLinePolicy::kSkip;
  o.max_bad_lines = 2;
  const auto raw = read("train.txt", "\xEF\xBB\xBF" "0 5 6\n1 7 x 8\ny 9\n2 4\n", o);
  EXPECT_EQ(raw.users.integers, (std::vector<std::int64_t>{0, 0, 2}));
  EXPECT_EQ(raw.items.integers, (std::vector<std::int64_t>{5, 6, 4}));
  EXPECT_EQ(raw.report.bad_lines, 2);
  ASSERT_EQ(raw.report.bad_examples.size(), 2u);
  EXPECT_NE(raw.report.bad_examples[0].find("train.txt:2:5: item id 'x'"), std::string::npos);
  EXPECT_NE(raw.report.bad_examples[1].find("train.txt:3:1: user id 'y'"), std::string::npos);
  o.max_bad_lines = 1;
  RF_EXPECT_ERROR(read("train.txt", "0 5 6\n1 7 x 8\ny 9\n2 4\n", o), ErrorKind::kData,
                  "2 bad lines, more than max_bad_lines (1)");
}

TEST_F(ReaderTest, TheFirstErrorIsReportedWhateverTheChunking) {
  std::string content = kHeader;
  for (int i = 0; i < 5000; ++i) content += std::to_string(i) + ",1,4.0,5\n";
  content += "bad,1,4.0,5\n";
  for (int i = 0; i < 5000; ++i) content += "zz" + std::to_string(i) + ",1,4.0,5\n";
  for (int threads : {1, 3}) {
    ReadOptions o;
    o.threads = threads;
    o.chunk_bytes = 97;
    RF_EXPECT_ERROR(read("ratings.csv", content, o), ErrorKind::kData, "ratings.csv:5002:1: user id 'bad'");
  }
}

// I5: chunked reading over byte ranges equals one sequential pass, including
// chunk boundaries inside lines and inside CRLF pairs.
TEST_F(ReaderTest, ChunkedParallelReadEqualsSequentialRead) {
  std::string content = kHeader;
  for (int i = 0; i < 20000; ++i) {
    content += std::to_string(i % 977) + "," + std::to_string(i * 7 % 1234) + "," + (i % 2 ? "3.5" : "4.0") + "," +
               std::to_string(1000000 + i) + (i % 3 ? "\r\n" : "\n");
  }
  ReadOptions sequential;
  sequential.threads = 1;
  sequential.chunk_bytes = 1 << 30;
  const auto expected = read("ratings.csv", content, sequential);
  for (std::int64_t chunk : {1, 7, 64, 4096}) {
    for (int threads : {2, 3}) {
      ReadOptions o;
      o.threads = threads;
      o.chunk_bytes = chunk;
      const auto got = read_raw_interactions((dir_.path() / "ratings.csv").string(), o);
      EXPECT_EQ(got.users.integers, expected.users.integers) << chunk << "/" << threads;
      EXPECT_EQ(got.items.integers, expected.items.integers);
      EXPECT_EQ(got.rating, expected.rating);
      EXPECT_EQ(got.timestamp, expected.timestamp);
      EXPECT_EQ(got.report.content_sha256, expected.report.content_sha256);
    }
  }
  EXPECT_EQ(expected.report.rows, 20000);
}

TEST_F(ReaderTest, ChunkedAdjacencyEqualsSequential) {
  std::string content;
  for (int u = 0; u < 3000; ++u) {
    content += std::to_string(u);
    for (int k = 0; k < u % 7; ++k) content += " " + std::to_string((u * 31 + k) % 500);
    content += u % 2 ? "\r\n" : "\n";
  }
  ReadOptions sequential;
  sequential.threads = 1;
  sequential.chunk_bytes = 1 << 30;
  const auto expected = read("train.txt", content, sequential);
  ReadOptions o;
  o.threads = 3;
  o.chunk_bytes = 5;
  const auto got = read_raw_interactions((dir_.path() / "train.txt").string(), o);
  EXPECT_EQ(got.users.integers, expected.users.integers);
  EXPECT_EQ(got.items.integers, expected.items.integers);
}

TEST(MapIds, DenseIdsFollowTheOriginalOrderAndAreSharedAcrossFiles) {
  RawIds a, b;
  a.integers = {50, 7, 50, 1000000};
  b.integers = {7, 3};
  std::vector<std::int32_t> da, db;
  const IdMap map = map_ids({&a, &b}, {&da, &db});
  EXPECT_EQ(map.integer_ids(), (std::vector<std::int64_t>{3, 7, 50, 1000000}));
  EXPECT_EQ(da, (std::vector<std::int32_t>{2, 1, 2, 3}));
  EXPECT_EQ(db, (std::vector<std::int32_t>{1, 0}));
  EXPECT_EQ(map.find("50"), 2);
  EXPECT_EQ(map.find("51"), std::nullopt);
  EXPECT_EQ(map.text(3), "1000000");
}

TEST(MapIds, SparseHugeIdsAndStrings) {
  RawIds a;
  a.integers = {INT64_MAX, 0, 1LL << 40};
  std::vector<std::int32_t> d;
  const IdMap map = map_ids({&a}, {&d});
  EXPECT_EQ(d, (std::vector<std::int32_t>{2, 0, 1}));
  RawIds s;
  s.strings = {"zed", "amy", "zed"};
  std::vector<std::int32_t> ds;
  const IdMap smap = map_ids({&s}, {&ds});
  EXPECT_EQ(ds, (std::vector<std::int32_t>{1, 0, 1}));
  EXPECT_EQ(smap.find("zed"), 1);
  EXPECT_EQ(smap.text(0), "amy");
}

}  // namespace
}  // namespace recforge::data
