#!/usr/bin/env bash
# Runs comm_bench with 1 and 2 MPI ranks (CPU) and prints the tables:
#   benchmarks/comm/run_comm_bench.sh [repeats=5]
# With 2 ranks on this 2-core machine each rank gets one core (OMP_NUM_THREADS=1);
# the 1-rank run gets both cores for its OpenMP loops.
set -euo pipefail
cd "$(dirname "$0")/../.."
repeats=${1:-5}
bench=build/bench/comm_bench
[ -x "$bench" ] || { echo "build first: cmake --build build --target comm_bench"; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
echo "# comm_bench: $(nproc) cores, $(lscpu | sed -n 's/Model name: *//p'), $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD)"
np=2  # the development machines have 2 cores
OMP_NUM_THREADS=1 mpirun -np "$np" --oversubscribe --bind-to none "$bench" allreduce "$repeats"
OMP_NUM_THREADS=1 mpirun -np "$np" --oversubscribe --bind-to none "$bench" exchange "$repeats"
echo
echo "| model step | ranks | ms per step | examples/s |"
echo "|---|---|---|---|"
# Unbound: mpirun pins a lone rank to one core.
OMP_NUM_THREADS=2 mpirun -np 1 --bind-to none "$bench" step | grep "^| MF"
OMP_NUM_THREADS=1 mpirun -np 2 --oversubscribe --bind-to none "$bench" step | grep "^| MF"
