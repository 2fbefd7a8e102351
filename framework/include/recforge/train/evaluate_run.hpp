// `recforge evaluate`: the metrics of a trained checkpoint, without training
// and without writing anything into its directory (a trainer may be using it).
//
//   every rank verifies the newest loadable version (rank 0's choice wins)
//   -> the job config it was trained with, plus --set overrides (eval.*, data
//      paths, run.device, ...; never model.*: the parameters are the checkpoint's)
//   -> JobSession: device, communicator, watchdog, as for training
//   -> the same data (its fingerprint must equal the checkpoint's)
//   -> the model built as for training, its parameters loaded
//   -> the evaluator (eval section; ranking with defaults when the run had none)
//      on the test or validation split, distributed over the ranks
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "recforge/log/metrics_log.hpp"

namespace recforge {

class DistributedRuntime;

struct EvaluateOptions {
  std::string checkpoint_dir;          // a checkpoint directory or a run directory
  std::vector<std::string> overrides;  // "key.path=value"
  std::vector<std::string> plugins;    // extra plugin libraries
  std::string split = "test";          // test | valid
  int repeat = 1;                      // evaluations timed (benchmarks: the first one warms up)
};

struct EvaluateResult {
  std::string checkpoint_dir, version;
  std::int64_t step = 0, epoch = 0;
  std::string model, split, device;
  std::int64_t heldout = 0;  // held-out interactions of the split
  int ranks = 1;
  double seconds = 0;                 // the evaluation itself (not loading); the median of `times`
  std::vector<double> times;          // seconds of each repeat, in order
  MetricValues metrics;
  std::string table;         // the evaluator's console table
};

// Every rank returns the same metrics (its own times). Throws kNotFound (no
// directory, no loadable version), kConfig (model.* override, other data, an
// empty split, a bad option) or kInternal (repeats that disagree).
EvaluateResult evaluate_checkpoint(const EvaluateOptions& options, DistributedRuntime& runtime);

// The result as a JSON document (what `evaluate -o` writes).
std::string evaluate_result_json(const EvaluateResult& result);

}  // namespace recforge
