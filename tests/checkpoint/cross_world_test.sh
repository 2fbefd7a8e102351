#!/usr/bin/env bash
# A checkpoint written by 2 ranks loads on 1 rank without conversion and gives
# the same evaluation:
#   cross_world_test.sh <recforge> <config> [--set overrides...]
# Trains <config> on 2 ranks, then resumes its final checkpoint in one process
# (nothing left to train) and compares the two test evaluations (eval.json).
set -u
recforge=$1; config=$2; shift 2
work=$(mktemp -d /tmp/recforge-world.XXXXXX)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
fail() { echo "FAIL: $*"; tail -n 20 "$work/out"; exit 1; }
mpirun -np 2 --oversubscribe --bind-to none "$recforge" train "$config" "$@" --set run.output_dir="$work/two" >"$work/out" 2>&1 \
  || fail "the 2-rank run failed"
two=$(find "$work/two" -name eval.json)
run_dir=$(dirname "$two")
"$recforge" train "$config" "$@" --set run.output_dir="$work/one" --resume "$run_dir" >"$work/out" 2>&1 || fail "the 1-rank resume failed"
grep -q "resuming a 2-rank checkpoint on 1 ranks" "$work/out" || fail "no note of the world-size change"
one=$(find "$work/one" -name eval.json)
[ -n "$one" ] || fail "the 1-rank run wrote no eval.json"
cmp -s "$two" "$one" || { diff "$two" "$one"; fail "the evaluations differ"; }
echo "ok: $config saved on 2 ranks, evaluated on 1: identical ($(grep -c . "$one") lines of eval.json)"
