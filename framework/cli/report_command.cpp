// `recforge report <run dir> [-o FILE]`: a static HTML page of a training run
// (report/run_report.hpp), written atomically (default: <run dir>/report.html).
#include <CLI/CLI.hpp>

#include <cstdio>

#include "commands.hpp"
#include "recforge/io/durable_file.hpp"
#include "recforge/report/run_report.hpp"

namespace recforge::cli {

void add_report_command(CLI::App& app, const GlobalOptions&) {
  struct Options {
    std::string run_dir, out;
  };
  auto options = std::make_shared<Options>();
  CLI::App* report = app.add_subcommand(
      "report", "render a run directory as one HTML page: loss and metric curves, evaluation, user groups, config");
  report->add_option("run_dir", options->run_dir, "a run directory (runs/<name>)")->required();
  report->add_option("-o,--out", options->out, "output file (default: <run dir>/report.html)");
  report->callback([options] {
    const std::string html = report::render_run_report(options->run_dir);
    const std::string out = options->out.empty() ? options->run_dir + "/report.html" : options->out;
    io::write_file_atomically(out, html);
    std::printf("wrote %s\n", out.c_str());
  });
}

}  // namespace recforge::cli
