// recforge report: the SVG chart and the HTML page from a known run directory.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>

#include "recforge/report/line_chart.hpp"
#include "recforge/report/run_report.hpp"
#include "testing/error_testing.hpp"
#include "testing/temp_dir.hpp"

namespace recforge::report {
namespace {

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(LineChart, TicksAreRoundAndCoverTheRange) {
  EXPECT_EQ(nice_ticks(0, 1), (std::vector<double>{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1}));
  EXPECT_EQ(nice_ticks(3, 97), (std::vector<double>{0, 20, 40, 60, 80, 100}));
  const auto flat = nice_ticks(5, 5);  // one value: padded around it
  EXPECT_LT(flat.front(), 5);
  EXPECT_GT(flat.back(), 5);
  // Values one rounding apart: padded like a flat series (the tick step fell
  // below the values' precision and the loop never ended).
  const auto noise = nice_ticks(0.25, 0.25000000000000006);
  ASSERT_LE(noise.size(), 10u);
  EXPECT_LT(noise.front(), 0.25);
  EXPECT_GT(noise.back(), 0.25);
}

TEST(LineChart, OnePolylinePerSeriesWithFinitePointsMappedIntoTheBox) {
  const std::string svg = svg_line_chart(
      {{"a<b", {{0, 0}, {10, 1}}}, {"nan only", {{1, std::nan("")}}}, {"c", {{5, 0.5}, {6, std::numeric_limits<double>::infinity()}}}},
      {"the-id", "Title & co", "step", "value", 640, 320});
  EXPECT_EQ(count(svg, "<polyline"), 2);
  EXPECT_NE(svg.find("id=\"the-id\""), std::string::npos);
  EXPECT_NE(svg.find("data-name=\"a&lt;b\""), std::string::npos);  // escaped
  EXPECT_NE(svg.find("Title &amp; co"), std::string::npos);
  EXPECT_EQ(svg.find("nan only"), std::string::npos);
  // x in [0, 10] maps to [64, 640 - 16]; y in [0, 1] to [320 - 44, 32].
  EXPECT_NE(svg.find("points=\"64.0,276.0 624.0,32.0 \""), std::string::npos) << svg;
  EXPECT_NE(svg.find("points=\"344.0,154.0 \""), std::string::npos) << svg;
}

TEST(LineChart, NoDataSaysSo) {
  const std::string svg = svg_line_chart({{"empty", {}}}, {"x", "T", "s", "v"});
  EXPECT_NE(svg.find("no data"), std::string::npos);
  EXPECT_EQ(count(svg, "<polyline"), 0);
}

void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TEST(RunReport, TablesCurvesAndConfigFromTheRunFiles) {
  testing::TempDir dir;
  write(dir.file("config.yaml"), "run:\n  name: demo\nmodel:\n  type: als\n  factors: 8\n");
  write(dir.file("metrics.jsonl"),
        "{\"step\":1,\"epoch\":0,\"split\":\"epoch\",\"values\":{\"loss\":3.5,\"seconds\":0.1}}\n"
        "{\"step\":1,\"epoch\":0,\"split\":\"valid\",\"values\":{\"recall@10\":0.1,\"ndcg@10\":0.05,"
        "\"recall@10[cold]\":0.0,\"users\":10}}\n"
        "{\"step\":2,\"epoch\":1,\"split\":\"epoch\",\"values\":{\"loss\":2.5,\"seconds\":0.1}}\n"
        "{\"step\":2,\"epoch\":1,\"split\":\"valid\",\"values\":{\"recall@10\":0.2,\"ndcg@10\":0.08}}\n");
  write(dir.file("eval.json"), "{\"recall@10\": 0.25, \"users[cold]\": 3, \"recall@10[cold]\": 0.125, "
                               "\"users[heavy]\": 7, \"recall@10[heavy]\": 0.3}");
  const std::string html = render_run_report(dir.path().string());
  EXPECT_NE(html.find("model <b>als</b>, 4 logged records, last step 2"), std::string::npos);
  EXPECT_NE(html.find("<svg id=\"loss-chart\""), std::string::npos);
  EXPECT_NE(html.find("<svg id=\"metric-chart\""), std::string::npos);
  EXPECT_EQ(count(html, "<polyline class=\"series\" data-name=\"recall@10\""), 1);  // the group's curve is left out
  EXPECT_NE(html.find("<tr><td>recall@10</td><td>0.2500</td></tr>"), std::string::npos);
  EXPECT_NE(html.find("<tr><td>cold</td><td>3</td><td>0.1250</td></tr>"), std::string::npos) << html;
  EXPECT_NE(html.find("<tr><td>heavy</td><td>7</td><td>0.3000</td></tr>"), std::string::npos);
  EXPECT_NE(html.find("<pre id=\"config\">run:\n  name: demo"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"));  // no external assets
}

// The metric curves are the validation split's; the final test evaluation is
// a table, not the curves' last point. Without validation records, the test
// split's evaluations are the curves.
TEST(RunReport, TheFinalTestIsNotOnTheValidationCurves) {
  testing::TempDir dir;
  write(dir.file("config.yaml"), "model:\n  type: mf\n");
  write(dir.file("metrics.jsonl"), "{\"step\":1,\"split\":\"valid\",\"values\":{\"recall@10\":0.25}}\n"
                                   "{\"step\":2,\"split\":\"valid\",\"values\":{\"recall@10\":0.5}}\n"
                                   "{\"step\":2,\"split\":\"test\",\"values\":{\"recall@10\":0.125}}\n");
  const std::string html = render_run_report(dir.path().string());
  const std::size_t curve = html.find("<polyline class=\"series\" data-name=\"recall@10\"");
  ASSERT_NE(curve, std::string::npos) << html;
  const std::size_t points = html.find("points=\"", curve) + 8;
  const std::string drawn = html.substr(points, html.find('"', points) - points);
  EXPECT_EQ(count(drawn, ","), 2) << drawn;  // two points
  write(dir.file("metrics.jsonl"), "{\"step\":1,\"split\":\"test\",\"values\":{\"recall@10\":0.25}}\n"
                                   "{\"step\":2,\"split\":\"test\",\"values\":{\"recall@10\":0.5}}\n");
  EXPECT_EQ(count(render_run_report(dir.path().string()), "data-name=\"recall@10\""), 1);
}

TEST(RunReport, WithoutEvalJsonTheLastValidationIsShown) {
  testing::TempDir dir;
  write(dir.file("config.yaml"), "model:\n  type: mf\n");
  write(dir.file("metrics.jsonl"), "{\"step\":7,\"split\":\"valid\",\"values\":{\"ndcg@20\":0.5}}\n");
  const std::string html = render_run_report(dir.path().string());
  EXPECT_NE(html.find("last evaluation (valid split), step 7"), std::string::npos);
  EXPECT_NE(html.find("<tr><td>ndcg@20</td><td>0.5000</td></tr>"), std::string::npos);
}

TEST(RunReport, BadRunDirectoriesAreNamed) {
  testing::TempDir dir;
  RF_EXPECT_ERROR(render_run_report(dir.file("nope")), ErrorKind::kNotFound, "nope: not a directory");
  RF_EXPECT_ERROR(render_run_report(dir.path().string()), ErrorKind::kNotFound, ": not a run directory (no config.yaml");
  write(dir.file("config.yaml"), "model:\n  type: mf\n");
  write(dir.file("metrics.jsonl"), "{\"step\":1,\"split\":\"epoch\",\"values\":{}}\n{\"step\": oops}\n");
  RF_EXPECT_ERROR(render_run_report(dir.path().string()), ErrorKind::kData, "metrics.jsonl:2: not a metrics record");
}

// A job killed while writing leaves its last record cut off, without a
// newline: the records before it are reported. A bad line with its newline
// is still an error.
TEST(RunReport, ACutOffLastRecordIsLeftOut) {
  testing::TempDir dir;
  write(dir.file("config.yaml"), "model:\n  type: mf\n");
  write(dir.file("metrics.jsonl"), "{\"step\":1,\"split\":\"valid\",\"values\":{\"recall@10\":0.25}}\n"
                                   "{\"step\":2,\"split\":\"valid\",\"values\":{\"reca");
  const std::string html = render_run_report(dir.path().string());
  EXPECT_NE(html.find("last evaluation (valid split), step 1"), std::string::npos) << html.substr(0, 2000);
  write(dir.file("metrics.jsonl"), "{\"step\":1,\"split\":\"valid\",\"values\":{}}\n{\"step\": oops\n");
  RF_EXPECT_ERROR(render_run_report(dir.path().string()), ErrorKind::kData, "metrics.jsonl:2: not a metrics record");
}

}  // namespace
}  // namespace recforge::report
