// run_job_rank: one rank's error ends the whole job (see job_failure.hpp).
#include "job_failure.hpp"

#include <new>
#include <string>

#include "exit_codes.hpp"
#include "recforge/comm/runtime.hpp"
#include "recforge/core/error.hpp"

namespace recforge::cli {

void run_job_rank(DistributedRuntime& runtime, const std::function<void()>& body) {
  const bool several = runtime.launch().world_size > 1;
  const std::string rank = "rank " + std::to_string(runtime.launch().rank);
  try {
    body();
  } catch (const Error& e) {
    if (several) {
      runtime.fail(exit_code_for(e.kind()),
                   rank + ": " + std::string(error_kind_name(e.kind())) + ": " + e.message());
    }
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
