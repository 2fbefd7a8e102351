// Fault injection for reliability tests (RELIABILITY.md section 2): the
// environment variable RF_FAULT makes a chosen rank misbehave at a chosen step
// or phase, e.g.
//   RF_FAULT=throw:rank=1:step=7       throw a recforge::Error
//   RF_FAULT=kill:rank=0:step=12       SIGKILL itself
//   RF_FAULT=exit:rank=1:step=3        exit(1)
//   RF_FAULT=abort:rank=1:step=3       abort()
//   RF_FAULT=segv:rank=1:step=3        raise SIGSEGV
//   RF_FAULT=stop:rank=1:step=5        SIGSTOP itself (a stuck rank)
//   RF_FAULT=nan:rank=1:step=40        the trainer poisons the loss with NaN (epoch-mode
//                                      models: at the epoch numbered step)
//   RF_FAULT=nan_grad:rank=1:step=40   ... or the first value of a gradient
//   RF_FAULT=huge_grad:step=40         ... sets it to 3e38: finite on each rank, infinite summed
//   RF_FAULT=nan_param:rank=0:step=40  ... or a parameter value the step used
//                                      (an embedding row it touched)
//   RF_FAULT=oom:rank=1:step=9         throw as an allocation failure would
//   RF_FAULT=skip_collective:rank=1:step=4   skip one collective (desync)
//   RF_FAULT=flip:rank=1:step=30       flip a mantissa bit of a parameter (silent divergence)
//   RF_FAULT=kill:rank=0:phase=checkpoint_before_rename   a checkpoint phase
//   RF_FAULT=kill:rank=0:phase=checkpoint_after_data:step=12   ... of the first save at step >= 12
//   RF_FAULT=delay:phase=load_before_data:ms=500   sleep at every pass through a phase
//                                      (readers have no rank: they pass 0)
//   RF_FAULT=delay:phase=job_abort:ms=1500   before a failing rank aborts the job
//   RF_FAULT=delay:rank=1:phase=stop_together:ms=60000   hold a rank before an agreed stop's barrier
//   RF_FAULT=delay:phase=comm_setup:ms=9000  inside the communicator's (watched) set-up
//   RF_FAULT=stop:rank=1:phase=preflight_data  while preflight reads the data files
//   RF_FAULT=alloc:rank=1:step=9:mb=8192   a real allocation (untouched): fails only
//                                      under a real ulimit -v (RELIABILITY F10)
//   RF_FAULT=kill:rank=1:step=9:attempt=0   only in the first attempt of a job
//                                      restarted by launch/restart.sh (which sets
//                                      RECFORGE_RESTART_ATTEMPT=0, 1, ...)
// Compiled in when RECFORGE_FAULT_INJECTION is on (the default for test builds).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace recforge::fault {

struct Fault {
  std::string kind;   // throw, kill, exit, abort, segv, stop, nan, oom, skip_collective, flip, nan_grad, huge_grad,
                      // nan_param, delay, alloc
  int rank = -1;      // -1: every rank
  std::int64_t step = -1;
  std::string phase;  // empty: at `step`
  int attempt = -1;   // -1: every attempt; else only when RECFORGE_RESTART_ATTEMPT equals it
  int delay_ms = 0;   // delay: how long
  std::int64_t alloc_mb = 0;  // alloc: how much
};

// The fault configured in RF_FAULT (parsed once), if any; throws on a malformed value.
const std::optional<Fault>& configured();
// Parses one RF_FAULT value (exposed for tests).
Fault parse(std::string_view text);
bool enabled_in_build();

// Triggers process-level faults (throw, kill, exit, abort, segv, stop, oom) when
// (rank, step) or (rank, phase) match; returns the fault kind for faults the
// caller implements itself (nan, nan_grad, huge_grad, nan_param, skip_collective, flip), else an empty string.
std::string at_step(int rank, std::int64_t step);
// With both a phase and a step, a phase fault fires at the first pass through
// the phase whose step (the checkpoint's, when the caller knows it) is >= step.
std::string at_phase(int rank, std::string_view phase, std::int64_t step = -1);

}  // namespace recforge::fault
