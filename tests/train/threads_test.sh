#!/usr/bin/env bash
# Ranks share their node's cores: with neither run.threads nor OMP_NUM_THREADS,
# each of 2 ranks on this node runs nproc / 2 threads (OpenMP's default, every
# core in every rank, oversubscribes the node); run.threads still wins; and
# MPI's view of the node wins over a launcher variable that misstates it.
#   threads_test.sh <recforge binary> <mpirun>
set -euo pipefail
recforge=$1; mpirun=$2
inside=()  # words before the binary, inside mpirun
work=$(mktemp -d /tmp/recforge-threads.XXXXXX)
trap 'rm -rf "$work"' EXIT
expect_threads() {  # expected, then extra train arguments
  local expected=$1 out
  shift
  out=$(env -u OMP_NUM_THREADS "$mpirun" -np 2 --oversubscribe --bind-to none "${inside[@]}" "$recforge" train configs/mf_tiny.yaml \
    --set run.output_dir="$work" --set run.log_level=info --set train.epochs=1 "$@" 2>&1) ||
    { echo "$out" | tail -n 20; echo "FAIL: the job failed"; exit 1; }
  grep -q ", $expected CPU thread(s) per rank" <<<"$out" ||
    { grep "thread" <<<"$out"; echo "FAIL: expected $expected CPU thread(s) per rank ($*)"; exit 1; }
}
# GNU nproc honours OMP_NUM_THREADS (ctest sets it to 1): ask without it.
cores=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)
share=$(( cores / 2 )); [ "$share" -ge 1 ] || share=1
expect_threads "$share"
expect_threads 3 --set run.threads=3
# A launcher that misstates the node's ranks (srun without --ntasks-per-node
# says nothing; here Open MPI's variable claims one): MPI's view of the node wins.
inside=(env OMPI_COMM_WORLD_LOCAL_SIZE=1 OMPI_COMM_WORLD_LOCAL_RANK=0)
expect_threads "$share"
echo "PASS: $share thread(s) per rank by default on $cores core(s), run.threads honoured, MPI's node size used"
