// `recforge report <run dir>`: one static HTML page for a training run, from the
// files the run wrote (framework/README.md, "Observability"): config.yaml,
// metrics.jsonl and eval.json.
#pragma once

#include <string>

namespace recforge::report {

std::string html_escape(const std::string& text);

// The page: loss curve, validation metric curves, the evaluation table, the
// per-user-group breakdown and the config. Throws Error naming the file (and
// line) when a file is missing or malformed.
std::string render_run_report(const std::string& run_dir);

}  // namespace recforge::report
