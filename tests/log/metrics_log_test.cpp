// metrics.jsonl: one parseable JSON object per record, appended and flushed.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "recforge/log/metrics_log.hpp"
#include "testing/error_testing.hpp"
#include "testing/temp_dir.hpp"

namespace recforge {
namespace {

std::vector<nlohmann::json> read_lines(const std::filesystem::path& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

TEST(MetricsLog, WritesOneJsonObjectPerRecordInNestedDirectories) {
  testing::TempDir temp;
  const auto dir = temp.path() / "runs" / "a";
  const auto path = dir / "metrics.jsonl";
  {
    MetricsLog log(path.string());
    log.write(10, 1, "train", {{"loss", 0.5}, {"lr", 0.01}});
    log.write(20, 2, "valid", {{"recall@20", 0.1625}});
    // Visible before the log is closed (flushed per record).
    EXPECT_EQ(read_lines(path).size(), 2u);
  }
  const auto records = read_lines(path);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0]["step"], 10);
  EXPECT_EQ(records[0]["epoch"], 1);
  EXPECT_EQ(records[0]["split"], "train");
  EXPECT_DOUBLE_EQ(records[0]["values"]["loss"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(records[1]["values"]["recall@20"].get<double>(), 0.1625);
  EXPECT_GE(records[1]["wall_time"].get<double>(), 0.0);
}

TEST(MetricsLog, NonFiniteValuesStayParseable) {
  testing::TempDir temp;
  const auto path = temp.path() / "metrics.jsonl";
  {
    MetricsLog log(path.string());
    log.write(1, 0, "train", {{"loss", std::nan("")}, {"g", INFINITY}});
  }
  const auto records = read_lines(path);
  EXPECT_EQ(records[0]["values"]["loss"], "NaN");
  EXPECT_EQ(records[0]["values"]["g"], "Infinity");
}

TEST(MetricValuesJson, KeepsTheOrderAndNonFiniteValuesParseable) {
  // eval.json's text: it used to print NaN as `nan`, which no JSON parser
  // (nor `recforge report`) reads.
  const auto doc = nlohmann::ordered_json::parse(
      metric_values_json({{"recall@10", 0.25}, {"recall@10[heavy]", std::nan("")}, {"x", -INFINITY}}));
  ASSERT_EQ(doc.size(), 3u);
  EXPECT_EQ(doc.begin().key(), "recall@10");
  EXPECT_DOUBLE_EQ(doc["recall@10"].get<double>(), 0.25);
  EXPECT_EQ(doc["recall@10[heavy]"], "NaN");
  EXPECT_EQ(doc["x"], "-Infinity");
}

TEST(MetricsLog, UnwritableLocationIsAnIoError) {
  RF_EXPECT_ERROR(MetricsLog("/proc/recforge/metrics.jsonl"), ErrorKind::kIo, "/proc/recforge");
}

// A run that goes on after step 5 (a resume) keeps the records up to it, of
// any split (without a validation split, evaluations are test records), and
// drops the rest: later steps an earlier attempt logged and a record a crash
// cut off; a fresh run starts empty.
TEST(MetricsLog, ContinuingARunCutsItsLogBackToTheRestoredStep) {
  testing::TempDir temp;
  const auto path = temp.path() / "metrics.jsonl";
  const std::string earlier =
      "{\"step\":5,\"epoch\":0,\"split\":\"epoch\",\"values\":{\"loss\":2}}\n"
      "{\"step\":5,\"epoch\":0,\"split\":\"test\",\"values\":{\"recall@10\":0.1}}\n"
      "{\"step\":7,\"epoch\":1,\"split\":\"train\",\"values\":{\"loss\":1}}\n"
      "{\"step\":8,\"epoch\":1,\"split\":\"tr";
  std::ofstream(path) << earlier;
  {
    MetricsLog log(path.string(), 5);
    log.write(6, 1, "train", {{"loss", 1.5}});
  }
  const auto records = read_lines(path);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0]["split"], "epoch");
  EXPECT_EQ(records[1]["split"], "test");
  EXPECT_EQ(records[2]["step"], 6);
  std::ofstream(path) << earlier;
  { MetricsLog fresh(path.string(), 0); }
  EXPECT_EQ(std::filesystem::file_size(path), 0u);
  std::ofstream(path) << earlier;
  { MetricsLog appending(path.string()); }  // without a step: as it was
  EXPECT_EQ(std::filesystem::file_size(path), earlier.size());
}

}  // namespace
}  // namespace recforge
