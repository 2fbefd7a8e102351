#!/usr/bin/env bash
# launch/restart.sh gives up (RELIABILITY F9): with a fault injected at every
# start, the wrapper makes exactly 1 + N attempts, stops with exit code 75 and
# says so; a command that succeeds is run once; a bad invocation exits 2.
#   restart_test.sh <recforge>
set -u
recforge=$1
here=$(cd "$(dirname "$0")" && pwd)
restart=$here/../../launch/restart.sh
# shellcheck source=tests/testing/job_test_env.sh
source "$here/../testing/job_test_env.sh" restart
cat >"$work/job.yaml" <<YAML
run: {name: restarts, output_dir: $work/runs, log_level: info}
data: {format: synthetic, synthetic: {preset: tiny}, split: {method: leave_one_out}, cache: false}
model: {type: mf, factors: 8, loss: bpr}
train: {epochs: 2, batch_size: 64}
checkpoint: {every_steps: 3}
YAML
mpi=(mpirun -np 2 --oversubscribe --bind-to none -x RF_FAULT -x OMP_NUM_THREADS -x RECFORGE_RESTART_ATTEMPT)

# Every attempt fails at step 20 of the run (a resumed attempt reaches it again).
RF_FAULT=exit:rank=1:step=20 timeout 300 "$restart" --max-restarts 2 -- \
  "${mpi[@]}" "$recforge" train "$work/job.yaml" >"$work/out" 2>&1
code=$?
[ "$code" -eq 75 ] || fail "exit code $code after the restarts ran out, expected 75"
attempts=$(grep -c "restart.sh: attempt [0-9] ended with exit code" "$work/out")
[ "$attempts" -eq 3 ] || fail "$attempts attempts, expected 3 (1 + 2 restarts)"
grep -q "restart.sh: giving up after 2 restarts" "$work/out" || fail "no giving-up message"
[ "$(grep -c 'resumed from' "$work/out")" -eq 2 ] || fail "the restarts did not resume from the checkpoint"

timeout 120 "$restart" -- "${mpi[@]}" "$recforge" train "$work/job.yaml" --set run.name=clean >"$work/out" 2>&1 ||
  fail "a clean run under the wrapper failed"
! grep -q "restart.sh:" "$work/out" || fail "a clean run was restarted"
"$restart" --max-restarts x -- true >"$work/out" 2>&1; [ $? -eq 2 ] || fail "--max-restarts x was accepted"
"$restart" --max-restarts 1 >"$work/out" 2>&1; [ $? -eq 2 ] || fail "no command was accepted"
echo "ok: 3 attempts then exit 75; a clean run runs once; bad invocations exit 2"
echo "RELIABILITY F9 trials=1 passed=1"
