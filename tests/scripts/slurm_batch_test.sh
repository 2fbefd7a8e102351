#!/usr/bin/env bash
# launch/slurm.sbatch builds the srun command line it should, checked against
# a stand-in srun on PATH that prints its arguments: the config and the user's
# options pass through; RECFORGE_RUN_NAME sets run.name, and its %a becomes
# the array task's id (each task of a sweep gets its own run directory);
# %a outside an array job is refused with exit 2.
set -u
here=$(cd "$(dirname "$0")" && pwd)
script=$here/../../launch/slurm.sbatch
work=$(mktemp -d /tmp/recforge-sbatch.XXXXXX)
trap 'rm -rf "$work"' EXIT
printf '#!/bin/sh\nprintf "%%s\\n" "$@"\n' >"$work/srun"
chmod +x "$work/srun"
fail() { echo "FAIL: $*"; echo "--- srun got ---"; cat "$work/args" 2>/dev/null; exit 1; }
run() { env -u SLURM_ARRAY_TASK_ID -u RECFORGE_RUN_NAME PATH="$work:$PATH" SLURM_CPUS_PER_TASK=4 "$@" \
  bash "$script" job.yaml --set train.epochs=2 >"$work/args" 2>&1; }
line() { paste -sd' ' "$work/args"; }

run || fail "a plain submission failed"
[ "$(line)" = "--mpi=pmix --cpus-per-task=4 --kill-on-bad-exit=1 build/bin/recforge train job.yaml --set train.epochs=2" ] ||
  fail "plain submission"
run RECFORGE_RUN_NAME=big || fail "a named run failed"
[[ "$(line)" == *" train job.yaml --set run.name=big --set train.epochs=2" ]] || fail "RECFORGE_RUN_NAME=big"
run RECFORGE_RUN_NAME=lr-%a-of-8 SLURM_ARRAY_TASK_ID=3 || fail "an array task failed"
[[ "$(line)" == *" --set run.name=lr-3-of-8 "* ]] || fail "%a was not the array task id"
run RECFORGE_RUN_NAME=lr-%a
code=$?
[ "$code" = 2 ] || fail "%a outside an array job: exit $code, expected 2"
grep -q "has %a, but this is not an array job" "$work/args" || fail "%a outside an array job: no reason given"
echo "PASS: slurm.sbatch passes the config, the options and the run name (with %a per array task) to srun"
