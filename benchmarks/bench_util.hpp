// Helpers shared by the micro benchmarks: device selection and skipping.
#pragma once

#include <benchmark/benchmark.h>

#include "recforge/core/cuda_runtime.hpp"
#include "recforge/core/resources.hpp"

namespace recforge::bench {

// Resources for the benchmark's device argument (0 = CPU, 1 = CUDA), or nullopt
// (with the benchmark marked skipped) when that device is not available.
inline bool device_available(benchmark::State& state, bool cuda) {
  if (cuda && cuda::device_count() == 0) {
    state.SkipWithError("no CUDA device");
    return false;
  }
  return true;
}

}  // namespace recforge::bench
