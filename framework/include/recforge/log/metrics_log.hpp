// Metrics as JSON lines in the run directory (runs/<name>/metrics.jsonl):
//   {"step": 120, "epoch": 3, "wall_time": 12.5, "split": "train", "values": {"loss": 0.41}}
// One line per record, flushed immediately, so a crashed run keeps what it logged
// and any tool (pandas.read_json(lines=True), jq) can plot it.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace recforge {

// Named values in a fixed order ("recall@20", 0.1625), as logged and reported.
using MetricValues = std::vector<std::pair<std::string, double>>;

// {"recall@20": 0.16, ...} as indented JSON text; NaN and infinities as the
// strings "NaN", "Infinity", "-Infinity" (JSON has no such numbers), as in the log.
std::string metric_values_json(const MetricValues& values);

class MetricsLog {
 public:
  using Values = MetricValues;

  // Opens (appends to) `path`; creates parent directories. With
  // `continues_after`, the log of a run that goes on after that many steps
  // (0: a fresh start; a resume: the checkpoint's step) is first cut back to
  // it, atomically: records of later steps (an attempt that died after its
  // last checkpoint would log them twice) and a record a crash cut off (the
  // next would follow it on its line) are dropped.
  explicit MetricsLog(const std::string& path, std::optional<std::int64_t> continues_after = std::nullopt);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  void write(std::int64_t step, std::int64_t epoch, const std::string& split, const Values& values);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace recforge
