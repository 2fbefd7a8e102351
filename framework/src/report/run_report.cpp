// render_run_report: reads a run directory and lays it out as one HTML page.
// Metric names follow the evaluator's: "ndcg@10", and per user group
// "ndcg@10[train10-49]" with the group's size in "users[train10-49]".
#include "recforge/report/run_report.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "recforge/config/config_diff.hpp"
#include "recforge/core/error.hpp"
#include "recforge/log/logging.hpp"
#include "recforge/report/line_chart.hpp"

namespace recforge::report {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;  // keeps the evaluator's order of metrics and groups

struct Record {
  double step = 0;
  std::string split;
  std::vector<std::pair<std::string, double>> values;
};

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  RF_CHECK_KIND(ErrorKind::kIo, in.good(), path.string(), ": cannot open (is this a recforge run directory?)");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<Record> read_metrics(const fs::path& path) {
  const std::string text = read_text(path);
  std::istringstream in(text);
  std::vector<Record> records;
  int number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    if (line.empty()) continue;
    const Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    // A job killed while it wrote leaves its last record cut off (no newline):
    // the run up to it is still worth a report.
    if (j.is_discarded() && in.eof() && !text.ends_with('\n')) {
      log::warn("{}:{}: the last record is cut off (the job ended while writing it); reporting the {} before it",
                path.string(), number, records.size());
      break;
    }
    RF_CHECK_KIND(ErrorKind::kData, j.is_object() && j.contains("step") && j["step"].is_number() &&
                                        j.contains("split") && j["split"].is_string() && j.contains("values") &&
                                        j["values"].is_object(),
                  path.string(), ":", number, ": not a metrics record ({\"step\", \"split\", \"values\"})");
    Record r;
    r.step = j["step"].get<double>();
    r.split = j["split"].get<std::string>();
    for (const auto& [name, value] : j["values"].items()) {
      if (value.is_number()) r.values.emplace_back(name, value.get<double>());
    }
    records.push_back(std::move(r));
  }
  return records;
}

// "ndcg@10[train10-49]" -> ("ndcg@10", "train10-49"); no bracket -> (name, "").
std::pair<std::string, std::string> split_group(const std::string& name) {
  const std::size_t open = name.find('[');
  if (open == std::string::npos || name.back() != ']') return {name, ""};
  return {name.substr(0, open), name.substr(open + 1, name.size() - open - 2)};
}

// Counts ("users") as integers, rates with four decimals.
std::string format_value(double v, const std::string& metric = "") {
  if (metric == "users") return fmt::format("{:.0f}", v);
  return std::fabs(v) >= 1e5 || (v != 0 && std::fabs(v) < 1e-3) ? fmt::format("{:.4e}", v) : fmt::format("{:.4f}", v);
}

std::string loss_chart(const std::vector<Record>& records) {
  Series per_step{"loss (logged steps)", {}}, per_epoch{"loss (epoch mean)", {}};
  for (const Record& r : records) {
    for (const auto& [name, value] : r.values) {
      if (name != "loss") continue;
      if (r.split == "train") per_step.points.emplace_back(r.step, value);
      if (r.split == "epoch") per_epoch.points.emplace_back(r.step, value);
    }
  }
  return svg_line_chart({per_step, per_epoch}, {"loss-chart", "Training loss", "step", "loss"});
}

std::string metric_chart(const std::vector<Record>& records) {
  // Every evaluation during training: of the validation split, or of the test
  // split for data without one. Overall ranking metrics only (not per group or novelty).
  // (The final test evaluation is its own table: on a validation curve it
  // would be a jump to another split at the last step.)
  const bool has_valid = std::any_of(records.begin(), records.end(), [](const Record& r) { return r.split == "valid"; });
  const std::string split = has_valid ? "valid" : "test";
  std::map<std::string, Series> by_name;
  for (const Record& r : records) {
    if (r.split != split) continue;
    for (const auto& [name, value] : r.values) {
      if (!split_group(name).second.empty() || name.find('@') == std::string::npos || name.rfind("novelty", 0) == 0) {
        continue;
      }
      Series& s = by_name[name];
      s.name = name;
      s.points.emplace_back(r.step, value);
    }
  }
  std::vector<Series> series;
  for (auto& [name, s] : by_name) series.push_back(std::move(s));
  return svg_line_chart(series, {"metric-chart", "Evaluation metrics", "step", "value"});
}

std::string eval_tables(const std::vector<std::pair<std::string, double>>& values, const std::string& source) {
  std::string overall;
  std::vector<std::string> group_names, metric_names;
  std::map<std::pair<std::string, std::string>, double> cell;
  for (const auto& [name, value] : values) {
    const auto [metric, group] = split_group(name);
    if (group.empty()) {
      overall += fmt::format("<tr><td>{}</td><td>{}</td></tr>\n", html_escape(name), format_value(value, name));
      continue;
    }
    if (std::find(group_names.begin(), group_names.end(), group) == group_names.end()) group_names.push_back(group);
    if (std::find(metric_names.begin(), metric_names.end(), metric) == metric_names.end()) {
      metric_names.push_back(metric);
    }
    cell[{group, metric}] = value;
  }
  std::string html = fmt::format("<h2>Evaluation</h2>\n<p class=\"source\">{}</p>\n"
                                 "<table id=\"eval-table\">\n<tr><th>metric</th><th>value</th></tr>\n{}</table>\n",
                                 html_escape(source), overall);
  // The group's size first.
  const auto users = std::find(metric_names.begin(), metric_names.end(), "users");
  if (users != metric_names.end()) std::rotate(metric_names.begin(), users, users + 1);
  html += "<h2>Per user group</h2>\n";
  if (group_names.empty()) return html + "<p id=\"group-table\">no per-group breakdown in this evaluation</p>\n";
  html += "<table id=\"group-table\">\n<tr><th>group</th>";
  for (const std::string& m : metric_names) html += "<th>" + html_escape(m) + "</th>";
  html += "</tr>\n";
  for (const std::string& g : group_names) {
    html += "<tr><td>" + html_escape(g) + "</td>";
    for (const std::string& m : metric_names) {
      const auto it = cell.find({g, m});
      html += "<td>" + (it == cell.end() ? std::string("—") : format_value(it->second, m)) + "</td>";
    }
    html += "</tr>\n";
  }
  return html + "</table>\n";
}

constexpr const char* kStyle = R"(body{font-family:system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}td:first-child,th:first-child{text-align:left}
pre{background:#f6f6f6;padding:1em;overflow:auto}.chart-title{font-weight:bold;font-size:14px}
.source{color:#666})";

}  // namespace

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string render_run_report(const std::string& run_dir) {
  const fs::path dir(run_dir);
  // A path that is no run directory is a bad command line (exit 2), as
  // evaluate's and export's are.
  RF_CHECK_KIND(ErrorKind::kNotFound, fs::is_directory(dir), run_dir, ": not a directory");
  RF_CHECK_KIND(ErrorKind::kNotFound, fs::exists(dir / "config.yaml"), run_dir,
                ": not a run directory (no config.yaml; a run that failed before training writes none)");
  const std::string config = read_text(dir / "config.yaml");
  const std::vector<Record> records = read_metrics(dir / "metrics.jsonl");

  // The test evaluation when the run made one, else the last validation.
  std::vector<std::pair<std::string, double>> final_values;
  std::string source;
  const fs::path eval_path = dir / "eval.json";
  if (fs::exists(eval_path)) {
    const Json j = Json::parse(read_text(eval_path), nullptr, false);
    RF_CHECK_KIND(ErrorKind::kData, j.is_object(), eval_path.string(), ": not a JSON object");
    for (const auto& [name, value] : j.items()) {
      if (value.is_number()) final_values.emplace_back(name, value.get<double>());
    }
    source = "test split (eval.json)";
  } else {
    for (auto it = records.rbegin(); it != records.rend(); ++it) {
      if (it->split != "valid" && it->split != "test") continue;
      final_values = it->values;
      source = fmt::format("last evaluation ({} split), step {}", it->split, it->step);
      break;
    }
    if (source.empty()) source = "no evaluation in this run";
  }
  const double last_step = records.empty() ? 0 : records.back().step;
  const auto leaves = config_leaves(config);
  const std::string model_type = leaves.count("model.type") ? leaves.at("model.type") : "?";
  const std::string name = dir.filename().empty() ? dir.parent_path().filename().string() : dir.filename().string();

  std::string html = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>recforge run {}</title>\n"
      "<style>{}</style>\n</head>\n<body>\n<h1 id=\"run-title\">Run {}</h1>\n"
      "<p id=\"run-summary\">model <b>{}</b>, {} logged records, last step {}</p>\n",
      html_escape(name), kStyle, html_escape(name), html_escape(model_type), records.size(),
      last_step);
  html += "<h2>Curves</h2>\n" + loss_chart(records) + metric_chart(records);
  html += eval_tables(final_values, source);
  html += "<h2>Config</h2>\n<pre id=\"config\">" + html_escape(config) + "</pre>\n</body>\n</html>\n";
  return html;
}

}  // namespace recforge::report
