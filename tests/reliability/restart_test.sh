#!/usr/bin/env bash
# launch/restart.sh gives up (RELIABILITY F9): with a fault injected at every
# start, the wrapper makes exactly 1 + N attempts, stops with exit code 75 and
# says so; a command that succeeds is run once; a config error (exit 2) is not
# restarted; SIGTERM and SIGUSR1 sent to the wrapper reach the job and stop
# it (143, and 0 with a checkpoint; a job failing after SIGUSR1 keeps its own
# code, no restart); a bad invocation exits 2.
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

# A config error would only repeat: one attempt, its code kept.
"$restart" -- "${mpi[@]}" "$recforge" train "$work/job.yaml" --set train.bogus=1 >"$work/out" 2>&1
code=$?
[ "$code" -eq 2 ] || fail "exit code $code for a config error under the wrapper, expected 2"
grep -q "restart.sh: exit code 2 is final" "$work/out" || fail "no 'final' message for exit code 2"
! grep -q "restart 1 of" "$work/out" || fail "a config error was restarted"

# Signals to the wrapper reach the job: SIGTERM ends it (143, no restart, no
# rank left running), SIGUSR1 stops it gracefully (exit 0, a checkpoint).
long=(--set train.epochs=100000 --set checkpoint.every_steps=50)
for signal in TERM USR1; do
  "$restart" -- "${mpi[@]}" "$recforge" train "$work/job.yaml" "${long[@]}" --set "run.name=sig$signal" >"$work/out" 2>&1 &
  wrapper=$!
  for _ in $(seq 600); do grep -q "training mf" "$work/out" 2>/dev/null && break; sleep 0.2; done
  grep -q "training mf" "$work/out" || { kill -9 "$wrapper"; fail "the job did not start training within 120 s"; }
  sleep 1
  kill "-$signal" "$wrapper"
  start=$(date +%s)
  wait "$wrapper"
  code=$?
  took=$(( $(date +%s) - start ))
  [ "$took" -le 10 ] || fail "the wrapper took ${took}s to end after SIG$signal (limit 10)"
  ! grep -q "restart 1 of" "$work/out" || fail "the job was restarted after SIG$signal"
  ! pgrep -f "run.name=sig$signal" >/dev/null || fail "a rank still runs after SIG$signal to the wrapper"
  if [ "$signal" = TERM ]; then
    [ "$code" -eq 143 ] || fail "exit code $code after SIGTERM to the wrapper, expected 143"
    grep -q "restart.sh: stopped by SIGTERM; not restarting" "$work/out" || fail "no stop message after SIGTERM"
  else
    [ "$code" -eq 0 ] || fail "exit code $code after SIGUSR1 to the wrapper, expected 0"
    compgen -G "$work/runs/sigUSR1/checkpoints/step-*" >/dev/null || fail "no checkpoint after the graceful stop"
  fi
done

# A job that fails after SIGUSR1 asked it to stop: not restarted, and its
# code (not 0) is the wrapper's.
# (The job says when its trap is set: a signal before that would kill it.)
rm -f "$work/ready"
"$restart" -- bash -c 'trap "kill \$!; exit 1" USR1; touch "$0"; sleep 60 & wait' "$work/ready" >"$work/out" 2>&1 &
wrapper=$!
for _ in $(seq 100); do [ -e "$work/ready" ] && break; sleep 0.1; done
kill -USR1 "$wrapper"
wait "$wrapper"
code=$?
[ "$code" -eq 1 ] || fail "exit code $code for a job that failed after SIGUSR1, expected its own 1"
grep -q "graceful stop (SIGUSR1) requested; not restarting" "$work/out" || fail "no 'not restarting' after SIGUSR1"
! grep -q "restart 1 of" "$work/out" || fail "a job that failed after SIGUSR1 was restarted"

# SIGUSR1 while the wrapper waits (--delay) to restart a failed attempt: no
# restart, and the failed attempt's code is the answer.
"$restart" --delay 30 -- bash -c 'exit 7' >"$work/out" 2>&1 &
wrapper=$!
for _ in $(seq 100); do grep -q "attempt 0 ended with exit code 7" "$work/out" 2>/dev/null && break; sleep 0.1; done
kill -USR1 "$wrapper"
wait "$wrapper"
code=$?
[ "$code" -eq 7 ] || fail "exit code $code after SIGUSR1 during --delay, expected the failed attempt's 7"
! grep -q "restart 1 of" "$work/out" || fail "restarted after SIGUSR1 during --delay"

"$restart" --max-restarts x -- true >"$work/out" 2>&1; [ $? -eq 2 ] || fail "--max-restarts x was accepted"
"$restart" --max-restarts >"$work/out" 2>&1; [ $? -eq 2 ] || fail "--max-restarts without a value was accepted"
"$restart" --delay 1.5 -- true >"$work/out" 2>&1; [ $? -eq 2 ] || fail "--delay 1.5 was accepted"
"$restart" --final-codes 2,x -- true >"$work/out" 2>&1; [ $? -eq 2 ] || fail "--final-codes 2,x was accepted"
"$restart" --max-restarts 1 >"$work/out" 2>&1; [ $? -eq 2 ] || fail "no command was accepted"
echo "ok: 3 attempts then exit 75; a clean run runs once; a config error is not restarted; SIGTERM and SIGUSR1 to the wrapper reach the job; bad invocations exit 2"
echo "RELIABILITY F9 trials=1 passed=1"
