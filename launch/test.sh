#!/usr/bin/env bash
# The README's test command: installs dependencies, lints the Dockerfiles
# (hadolint), builds everything (CUDA
# compiled even without a GPU), runs every ctest label; then builds the CPU
# paths again with clang under ASan + UBSan (CMakePresets.json asan-ubsan),
# runs the unit and mpi tests there, and fuzzes every reader of outside input
# for a bounded time with the same build. GPU tests skip without a GPU;
# realdata tests skip unless RECFORGE_DATA_DIR is set. Arguments go to the
# first ctest (e.g. -L unit, -R Config) and skip the sanitizer and fuzz stages.
# RECFORGE_SANITIZERS=0 / RECFORGE_FUZZ_SECONDS=0 turn those stages off.
# The sanitizer tests run with allocator_may_return_null=1: a corrupt size
# field in a checkpoint makes libhdf5 ask malloc for petabytes, which glibc
# refuses with NULL (and HDF5 reports an error, the test's expectation) but
# ASan by default treats as a crash.
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/install-deps.sh
bash launch/lint-docker.sh
bash launch/build.sh
# Open MPI refuses to run as root unless told it is fine (CI containers run as root).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ctest --test-dir "${RECFORGE_BUILD_DIR:-build}" --output-on-failure -j "$(nproc)" "$@"
[ $# -eq 0 ] || exit 0
if [ "${RECFORGE_SANITIZERS:-1}" != 0 ]; then
  echo "== unit and mpi tests under ASan + UBSan (build-asan/)"
  cmake --preset asan-ubsan >/dev/null
  cmake --build --preset asan-ubsan
  ctest --preset asan-ubsan -j "$(nproc)"
fi
# Bounded fuzzing of every parser of outside input (clang + libFuzzer, ASan/UBSan).
if [ "${RECFORGE_FUZZ_SECONDS:-30}" != 0 ]; then
  bash launch/fuzz.sh "${RECFORGE_FUZZ_SECONDS:-30}"
fi
