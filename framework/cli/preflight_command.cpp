// `recforge preflight <config>`: devices, a known all-reduce, bandwidth and data
// files on every rank of the job, before a long run is started.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>

#include "commands.hpp"
#include "exit_codes.hpp"
#include "job_failure.hpp"
#include "recforge/comm/communicator.hpp"
#include "recforge/comm/runtime.hpp"
#include "recforge/config/job_config.hpp"
#include "recforge/train/job_session.hpp"
#include "recforge/train/preflight.hpp"

namespace recforge::cli {

void add_preflight_command(CLI::App& app, const GlobalOptions& global) {
  struct Options {
    std::string file;
    std::vector<std::string> overrides;
  };
  auto options = std::make_shared<Options>();
  CLI::App* preflight = app.add_subcommand(
      "preflight", "check, on every rank of the job, the device, a known all-reduce, its bandwidth and the data files");
  preflight->add_option("config", options->file, "YAML config of the job to check")->required();
  preflight->add_option("--set", options->overrides, "override a key (repeatable)");
  preflight->callback([options, &global] {
    DistributedRuntime runtime(nullptr, nullptr);
    // As train does: a rank that fails alone (no GPU, a file missing on its
    // node) ends the job at once with its own message, not at the watchdog.
    run_job_rank(runtime, [&] {
      // Quiet unless asked: the table is the output (a later --set or --log-level wins).
      std::vector<std::string> overrides = options->overrides;
      overrides.insert(overrides.begin(), "run.log_level=warn");
      const ConfigNode job = load_job_config(options->file, global.with_logging(overrides), global.plugins);
      RF_CHECK_KIND(ErrorKind::kConfig, !job["model"].is_null(),
                    "the config has no model section; add `model:` with a `type:` (train would refuse it)");
      // The job's own set-up, watchdog included: a rank that hangs (a stuck
      // file system, a stopped process) ends the check within comm.watchdog_timeout.
      JobSession session(job, runtime, /*heartbeat_dir=*/"");
      Communicator& comm = session.comm();
      const auto checks = run_preflight(job, comm, session.device(), session.resources(), /*measure_bandwidth=*/true);
      const bool ok = std::all_of(checks.begin(), checks.end(), [](const PreflightCheck& c) { return c.ok; });
      if (comm.rank() == 0) {
        std::printf("preflight of %s on %d rank(s), %s backend:\n%s%s\n", options->file.c_str(), comm.world_size(),
                    std::string(comm.backend()).c_str(), format_preflight(checks).c_str(),
                    ok ? "all checks passed" : "FAILED");
        std::fflush(stdout);
      }
      // The exit code says what failed first: the device (1), the collective
      // (4), the data (3), a data path that cannot be named (2). Every rank has the same table.
      require_preflight_passed(checks, /*table_printed=*/true);
    });
  });
}

}  // namespace recforge::cli
