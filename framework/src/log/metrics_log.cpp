// MetricsLog: JSON lines via nlohmann-json, flushed per record.
#include "recforge/log/metrics_log.hpp"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "recforge/core/error.hpp"
#include "recforge/io/durable_file.hpp"

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

// The complete records of `text` a run continuing after `steps` keeps (a line
// that is not a record is kept: `recforge report` names it). Records of every
// split alike: without a validation split the evaluations during training are
// "test" records too (a final one at the restored step comes again, equal).
std::string records_kept(const std::string& text, std::int64_t steps) {
  std::string kept;
  for (std::size_t begin = 0, end; (end = text.find('\n', begin)) != std::string::npos; begin = end + 1) {
    const std::string_view line(text.data() + begin, end - begin + 1);
    const auto record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (record.is_object() && record.contains("step") && record["step"].is_number_integer()) {
      if (record["step"].get<std::int64_t>() > steps) continue;
    }
    kept += line;
  }
  return kept;
}

}  // namespace

std::string metric_values_json(const MetricValues& values) { return values_json(values).dump(2) + "\n"; }

MetricsLog::MetricsLog(const std::string& path, std::optional<std::int64_t> continues_after)
    : path_(path), start_(std::chrono::steady_clock::now()) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  RF_CHECK_KIND(ErrorKind::kIo, !ec, "cannot create directory '", parent.string(), "': ", ec.message());
  if (continues_after && std::filesystem::exists(path, ec)) {
    const auto bytes = io::read_file_bytes(path, std::int64_t{1} << 32);
    const std::string text(bytes.begin(), bytes.end());
    const std::string kept = *continues_after > 0 ? records_kept(text, *continues_after) : std::string();
    if (kept != text) io::write_file_atomically(path, kept);
  }
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
