// Preflight: cheap checks that every rank can do its job, before loading 25M rows.
//   device      every rank sees the device it will use
//   allreduce   a known tensor all-reduces to the known answer on the chosen backend
//   bandwidth   all-reduce bandwidth of a 64 MiB buffer (standalone command only)
//   data        every rank can open and read the data files
// `recforge preflight <config>` runs them all and prints a table; `recforge
// train` runs the quick ones first unless comm.preflight is false.
#pragma once

#include <string>
#include <vector>

#include "recforge/comm/communicator.hpp"
#include "recforge/config/config_node.hpp"
#include "recforge/core/error.hpp"

namespace recforge {

struct PreflightCheck {
  std::string name;
  bool ok = true;
  std::string detail;  // per-rank findings when something failed, the measurement otherwise
  // What a failure is (its exit code): the device kCuda, a collective
  // kCommunication, the data files kData, or kConfig where a rank could not
  // even name them (an unset ${VAR} in a path).
  ErrorKind kind = ErrorKind::kCommunication;
};

// Every rank calls this; every rank gets the same report. Never throws for a
// failed check (the report says what failed); throws only on a broken communicator.
std::vector<PreflightCheck> run_preflight(const ConfigNode& job, Communicator& comm, Device device,
                                          const Resources& resources, bool measure_bandwidth);

std::string format_preflight(const std::vector<PreflightCheck>& checks);

// Throws, alike on every rank, the first failed check's kind, naming it (with
// the table unless it was printed); returns when all passed. restart.sh reads
// the exit code: only a collective's failure is worth another attempt.
void require_preflight_passed(const std::vector<PreflightCheck>& checks, bool table_printed);

}  // namespace recforge
