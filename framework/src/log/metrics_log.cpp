// MetricsLog: JSON lines via nlohmann-json, flushed per record.
#include "recforge/log/metrics_log.hpp"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "recforge/core/error.hpp"

namespace recforge {
namespace {

nlohmann::ordered_json values_json(const MetricValues& values) {
  nlohmann::ordered_json v = nlohmann::ordered_json::object();
  for (const auto& [name, value] : values) {
    // JSON has no NaN/Inf; write them as strings so the record stays parseable.
    if (std::isfinite(value)) {
      v[name] = value;
    } else {
      v[name] = std::isnan(value) ? "NaN" : (value > 0 ? "Infinity" : "-Infinity");
    }
  }
  return v;
}

}  // namespace

std::string metric_values_json(const MetricValues& values) { return values_json(values).dump(2) + "\n"; }

MetricsLog::MetricsLog(const std::string& path) : path_(path), start_(std::chrono::steady_clock::now()) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  RF_CHECK_KIND(ErrorKind::kIo, !ec, "cannot create directory '", parent.string(), "': ", ec.message());
  file_ = std::fopen(path.c_str(), "a");
  RF_CHECK_KIND(ErrorKind::kIo, file_ != nullptr, "cannot open metrics log '", path, "': ", std::strerror(errno));
}

MetricsLog::~MetricsLog() {
  if (file_) std::fclose(file_);
}

void MetricsLog::write(std::int64_t step, std::int64_t epoch, const std::string& split, const Values& values) {
  nlohmann::ordered_json record;
  record["step"] = step;
  record["epoch"] = epoch;
  record["wall_time"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  record["split"] = split;
  record["values"] = values_json(values);
  const std::string line = record.dump() + "\n";
  RF_CHECK_KIND(ErrorKind::kIo, std::fwrite(line.data(), 1, line.size(), file_) == line.size() && std::fflush(file_) == 0,
                "cannot write metrics log '", path_, "': ", std::strerror(errno));
}

}  // namespace recforge
