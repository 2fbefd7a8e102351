// Running one rank of a multi-rank command (train, evaluate). Under mpirun an
// error on one rank must end every rank at once: the others may be waiting in
// a collective this rank will never join.
#pragma once

#include <functional>

namespace recforge {
class DistributedRuntime;
}

namespace recforge::cli {

// Runs `body`. On an error in a job of several ranks: prints this rank's
// message and aborts the job (MPI_Abort) with the error's exit code; a single
// process rethrows for main() to report. An AgreedError (every rank raised
// it) ends the job in order instead (DistributedRuntime::stop_together).
void run_job_rank(DistributedRuntime& runtime, const std::function<void()>& body);

}  // namespace recforge::cli
