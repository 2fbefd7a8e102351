// `recforge evaluate <checkpoint or run dir> [--split test|valid] [--set k=v]
// [-o metrics.json]`: the ranking metrics of the newest verified checkpoint on
// the data it was trained on (see train/evaluate_run.hpp); under mpirun the
// test users are shared among the ranks. The checkpoint directory is only read.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>

#include "commands.hpp"
#include "job_failure.hpp"
#include "recforge/comm/runtime.hpp"
#include "recforge/core/error.hpp"
#include "recforge/io/durable_file.hpp"
#include "recforge/train/evaluate_run.hpp"

namespace recforge::cli {

void add_evaluate_command(CLI::App& app, const GlobalOptions& global) {
  struct Options {
    EvaluateOptions evaluate;
    std::string json;
  };
  auto options = std::make_shared<Options>();
  CLI::App* evaluate = app.add_subcommand(
      "evaluate", "evaluate the newest checkpoint on the data it was trained on (ranking metrics, full or sampled)");
  evaluate->add_option("dir", options->evaluate.checkpoint_dir, "a checkpoint directory or a run directory (runs/<name>)")
      ->required();
  evaluate->add_option("--split", options->evaluate.split, "the held-out split: test or valid")
      ->check(CLI::IsMember({"test", "valid"}));
  evaluate->add_option("--set", options->evaluate.overrides,
                       "override a key of the run's config: --set eval.k=[10,50] --set eval.protocol=sampled "
                       "(repeatable; not model.*)");
  evaluate->add_option("--repeat", options->evaluate.repeat,
                       "evaluate N times and report the median time (benchmarks: the first run warms caches up)")
      ->check(CLI::Range(1, 1000));
  evaluate->add_option("-o,--json", options->json, "also write the metrics as JSON to this file (atomically)");
  evaluate->callback([options, &global] {
    DistributedRuntime runtime(nullptr, nullptr);
    run_job_rank(runtime, [&] {
      EvaluateOptions request = options->evaluate;
      request.overrides = global.with_logging(request.overrides);
      request.plugins = global.plugins;
      if (runtime.launch().rank == 0 && !options->json.empty()) {  // before minutes of evaluation, not after
        const std::filesystem::path parent = std::filesystem::absolute(options->json).parent_path();
        RF_CHECK_KIND(ErrorKind::kNotFound, std::filesystem::is_directory(parent), "-o ", options->json,
                      ": the directory ", parent.string(), " does not exist");
      }
      const EvaluateResult result = evaluate_checkpoint(request, runtime);
      if (runtime.launch().rank != 0) return;
      if (!options->json.empty()) io::write_file_atomically(options->json, evaluate_result_json(result));
      std::printf("%s (%s, step %lld, epoch %lld) on the %s split: %lld held-out interactions, %d rank(s) on %s, "
                  "%.3f s%s\n%s",
                  result.checkpoint_dir.c_str(), result.version.c_str(), static_cast<long long>(result.step),
                  static_cast<long long>(result.epoch), result.split.c_str(), static_cast<long long>(result.heldout),
                  result.ranks, result.device.c_str(), result.seconds,
                  result.times.size() > 1 ? (" (median of " + std::to_string(result.times.size()) + ")").c_str() : "",
                  result.table.c_str());
      std::fflush(stdout);
    });
  });
}

}  // namespace recforge::cli
