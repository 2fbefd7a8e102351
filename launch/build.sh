#!/usr/bin/env bash
# Configures and builds recforge into ${RECFORGE_BUILD_DIR:-build} (Release,
# Ninja, ccache when present). CUDA code is compiled whenever nvcc and NCCL are found.
# Extra arguments go to the CMake configure step (e.g. -DRECFORGE_CUDA=OFF).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${RECFORGE_BUILD_DIR:-build}
export PATH="$PATH:/usr/local/cuda/bin"
if [ ! -f "$build_dir/build.ninja" ] || [ $# -gt 0 ]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
fi
cmake --build "$build_dir"
