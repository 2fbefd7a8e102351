#!/usr/bin/env bash
# The README's test command: installs dependencies, builds everything (CUDA
# compiled even without a GPU), runs every ctest label, then fuzzes the input
# parsers for a bounded time. GPU tests skip without a GPU; realdata tests skip
# unless RECFORGE_DATA_DIR is set. Arguments go to ctest (e.g. -L unit, -R Config).
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/install-deps.sh
bash launch/build.sh
# Open MPI refuses to run as root unless told it is fine (CI containers run as root).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ctest --test-dir "${RECFORGE_BUILD_DIR:-build}" --output-on-failure -j "$(nproc)" "$@"
# Bounded fuzzing of every parser of outside input (clang + libFuzzer, ASan/UBSan).
# Skipped when ctest was asked for a subset; RECFORGE_FUZZ_SECONDS=0 turns it off.
if [ $# -eq 0 ] && [ "${RECFORGE_FUZZ_SECONDS:-30}" != 0 ]; then
  bash launch/fuzz.sh "${RECFORGE_FUZZ_SECONDS:-30}"
fi
