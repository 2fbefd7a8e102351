// `recforge train`: everything between a resolved config and a trained model.
//
//   device and communicator (comm.backend), watchdog, SIGUSR1 handler
//   -> run directory runs/<name>/ (config.yaml, metrics.jsonl, heartbeats/)
//   -> every rank checks it runs the same config (hash all-gathered)
//   -> data: rank 0 prepares and caches, the others then load the cache; the
//      dataset fingerprint is compared across ranks
//   -> model from the registry, built identically on every rank
//   -> Trainer::fit
// Any error on a rank ends the whole job quickly (MPI_Abort) with that rank's message.
#pragma once

#include <string>
#include <vector>

#include "recforge/comm/runtime.hpp"
#include "recforge/config/schema.hpp"
#include "recforge/train/trainer.hpp"

namespace recforge {

Schema comm_schema();

struct TrainRunResult {
  TrainSummary summary;
  std::string run_dir;
  MetricValues test_metrics;  // empty without an eval section or a test split
};

TrainRunResult run_training(const ConfigNode& job, DistributedRuntime& runtime);

// <run.output_dir>/<run.name>, after checking that the name is one directory
// name and output_dir, if it exists, a directory (kConfig errors naming the key).
std::string run_directory(const ConfigNode& run);

// The device a job runs on: run.device (auto: CUDA when a GPU is visible) and,
// for CUDA, the GPU of this local rank.
Device choose_device(const std::string& setting, int local_rank);

}  // namespace recforge
