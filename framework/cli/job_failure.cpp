// run_job_rank: one rank's error ends the whole job (see job_failure.hpp).
#include "job_failure.hpp"

#include <new>
#include <string>

#include "exit_codes.hpp"
#include "recforge/comm/runtime.hpp"
#include "recforge/core/error.hpp"

namespace recforge::cli {
namespace {

std::string report(const std::string& rank, const Error& e) {
  return rank + ": " + std::string(error_kind_name(e.kind())) + ": " + e.message();
}

}  // namespace

void run_job_rank(DistributedRuntime& runtime, const std::function<void()>& body) {
  const bool several = runtime.launch().world_size > 1;
  const std::string rank = "rank " + std::to_string(runtime.launch().rank);
  try {
    body();
  } catch (const AgreedError& e) {
    // Every rank is here with the same decision: end in order, so each rank's
    // report reaches the log before the job goes down.
    if (several) runtime.stop_together(exit_code_for(e.kind()), report(rank, e));
    throw;
  } catch (const Error& e) {
    if (several) runtime.fail(exit_code_for(e.kind()), report(rank, e));
    throw;
  } catch (const std::bad_alloc&) {
    // No retry: the other ranks would wait in the next collective forever.
    const std::string message = rank + ": out of memory (host allocation failed); the job stops";
    if (several) runtime.fail(kExitFailure, message);
    RF_THROW(ErrorKind::kInternal, message);
  } catch (const std::exception& e) {
    if (several) runtime.fail(kExitFailure, rank + ": unexpected error: " + e.what());
    throw;
  }
}

}  // namespace recforge::cli
