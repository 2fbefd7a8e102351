#!/usr/bin/env bash
# One job per run directory: while a job holds runs/<name>, a second job given
# the same run directory is refused (exit 2) naming the holder's pid, on one
# rank and on two (both ranks report, no MPI_Abort), and so is a job of another
# name resuming it (--resume runs/<name>) or writing its checkpoint.dir (a
# folder of another name than checkpoints/, locked by .checkpoints.lock: a
# .lock would make `--resume DIR` and `serve` take it for a run directory);
# once the holder dies, even by SIGKILL, the directories are free at once (no
# stale lock to clean up).
#   run_lock_test.sh <recforge binary> [mpirun]
set -euo pipefail
recforge=$1; mpirun=${2:-}
work=$(mktemp -d /tmp/recforge-lock.XXXXXX)
holder_pid=
trap '[ -z "$holder_pid" ] || kill -9 "$holder_pid" 2>/dev/null; rm -rf "$work"' EXIT
train=(train configs/mf_tiny.yaml --set run.output_dir="$work" --set train.epochs=1)

# The holder waits (ten minutes at most; it is killed at the end) in preflight, after taking the lock.
RF_FAULT=delay:phase=preflight_data:ms=600000 "$recforge" "${train[@]}" --set checkpoint.dir="$work/ckpts" \
  >"$work/holder.log" 2>&1 &
holder_pid=$!
for _ in $(seq 100); do
  [ -s "$work/mf_tiny/.lock" ] && break
  sleep 0.1
done
[ -s "$work/mf_tiny/.lock" ] || { cat "$work/holder.log"; echo "FAIL: the holder never took the lock"; exit 1; }

expect_refused() {  # what the refusal names, then launcher words before the binary, then --, train options
  local what=$1 code=0 out launcher=() extra=()
  shift
  while [ "$#" -gt 0 ] && [ "$1" != -- ]; do launcher+=("$1"); shift; done
  [ "$#" -gt 0 ] && shift && extra=("$@")
  out=$(${launcher[@]+"${launcher[@]}"} "$recforge" "${train[@]}" ${extra[@]+"${extra[@]}"} 2>&1) || code=$?
  [ "$code" = 2 ] || { echo "$out"; echo "FAIL: expected exit 2, got $code from: ${launcher[*]} ${extra[*]}"; exit 1; }
  grep -q "$what is in use by another job (pid $holder_pid on " <<<"$out" ||
    { echo "$out"; echo "FAIL: the refusal does not name the directory and its holder"; exit 1; }
  set -- ${launcher[@]+"${launcher[@]}"}
  if [ "$#" -gt 0 ]; then  # every rank reports it, and the job ends without MPI_Abort
    [ "$(grep -c "is in use by another job" <<<"$out")" -ge 2 ] || { echo "$out"; echo "FAIL: one rank's report"; exit 1; }
    if grep -q "MPI_ABORT" <<<"$out"; then echo "$out"; echo "FAIL: MPI_Abort"; exit 1; fi
  fi
}
expect_refused "the run directory $work/mf_tiny"
[ -z "$mpirun" ] || expect_refused "the run directory $work/mf_tiny" "$mpirun" -np 2 --oversubscribe --bind-to none
# Resuming the run while it trains, under another run name.
expect_refused "the run directory of this job's checkpoints $work/mf_tiny" -- --set run.name=other --resume "$work/mf_tiny"
expect_refused "this job's checkpoint directory $work/ckpts" -- --set run.name=other --set checkpoint.dir="$work/ckpts"
[ ! -e "$work/ckpts/.lock" ] || { echo "FAIL: a .lock in the checkpoint directory marks it as a run directory"; exit 1; }

kill -9 "$holder_pid"
wait "$holder_pid" 2>/dev/null || true
holder_pid=
"$recforge" "${train[@]}" --set checkpoint.dir="$work/ckpts" >"$work/after.log" 2>&1 ||
  { cat "$work/after.log"; echo "FAIL: the run directory stayed locked after its holder died"; exit 1; }
# The checkpoint directory is one, not a run directory: --resume reads its versions.
"$recforge" train configs/mf_tiny.yaml --set run.output_dir="$work" --set run.name=third --set train.epochs=1 \
  --set run.log_level=info --resume "$work/ckpts" >"$work/resume.log" 2>&1 || { cat "$work/resume.log"; echo "FAIL: --resume $work/ckpts"; exit 1; }
grep -q "resumed from $work/ckpts/step-" "$work/resume.log" || { cat "$work/resume.log"; echo "FAIL: not resumed"; exit 1; }
echo "PASS: a second job is refused while the first holds the run directory, and runs once it died"
