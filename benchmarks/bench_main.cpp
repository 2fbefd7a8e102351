// Benchmark main: records the machine in the JSON context so results carry it.
#include <benchmark/benchmark.h>

#include "recforge/core/cuda_runtime.hpp"
#include "recforge/core/version.hpp"
#include "recforge/log/logging.hpp"

int main(int argc, char** argv) {
  recforge::log::init(0, 1, recforge::log::Level::kWarn);
  benchmark::AddCustomContext("recforge_version", std::string(recforge::version()));
  benchmark::AddCustomContext("recforge_git_revision", std::string(recforge::git_revision()));
  benchmark::AddCustomContext("cuda_device", recforge::cuda::device_count() > 0
                                                 ? recforge::cuda::describe_device(0)
                                                 : std::string("none"));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
