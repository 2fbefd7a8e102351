#!/usr/bin/env bash
# benchmarks/train/throughput.sh, which the GPU session runs at the ML-25M
# shape, on the tiny preset on the CPU: every model gets a row with a measured
# rate, a model that cannot train gets a row naming recforge's error and exit
# 1, and an unknown COMM value is refused (exit 2).
#   train_throughput_test.sh <build dir>/bin/recforge
set -uo pipefail
unset MODELS COMM  # the defaults are what the GPU session runs
build=$(cd "$(dirname "$1")/.." && pwd)
script="$(cd "$(dirname "$0")/../.." && pwd)/benchmarks/train/throughput.sh"
work=$(mktemp -d /tmp/recforge-throughput.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; [ -f "$work/table.md" ] && cat "$work/table.md"; exit 1; }
export RECFORGE_BUILD_DIR=$build RECFORGE_BENCH_DIR=$work/bench DEVICE=cpu PRESET=tiny STEPS=8 OMP_NUM_THREADS=1

"$script" "$work/table.md" 2>"$work/err" || fail "exit $? on the CPU: $(cat "$work/err")"
for model in als ncf two_tower sasrec lightgcn; do
  grep -qE "^\| $model \| [0-9.]+ (steps/s|s per iteration) \|" "$work/table.md" || fail "no measured row for $model"
done
grep -q "failed" "$work/table.md" && fail "a model failed"

COMM=bogus "$script" "$work/table.md" 2>"$work/err"
[ $? -eq 2 ] && grep -q "COMM must be" "$work/err" || fail "COMM=bogus was not refused with exit 2"

if command -v mpirun >/dev/null; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
  MODELS=ncf COMM=nccl "$script" "$work/table.md" 2>"$work/err"
  [ $? -eq 1 ] || fail "a model that cannot train did not give exit 1"
  grep -qF "| ncf | failed: recforge: config error: comm.backend nccl needs run.device cuda |" "$work/table.md" ||
    fail "the failed row does not name recforge's error"
fi
echo "ok: five measured rows; failures named; bad COMM refused"
