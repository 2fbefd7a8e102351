// Metrics as JSON lines in the run directory (runs/<name>/metrics.jsonl):
//   {"step": 120, "epoch": 3, "wall_time": 12.5, "split": "train", "values": {"loss": 0.41}}
// One line per record, flushed immediately, so a crashed run keeps what it logged
// and any tool (pandas.read_json(lines=True), jq) can plot it.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
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

  // Opens (appends to) `path`; creates parent directories.
  explicit MetricsLog(const std::string& path);
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
