#!/usr/bin/env bash
# One job per run directory: while a job holds runs/<name>, a second job given
# the same run directory is refused (exit 1) naming the holder's pid, on one
# rank and on two (both ranks report, no MPI_Abort); once the holder dies,
# even by SIGKILL, the directory is free at once (no stale lock to clean up).
#   run_lock_test.sh <recforge binary> [mpirun]
set -euo pipefail
recforge=$1; mpirun=${2:-}
work=$(mktemp -d /tmp/recforge-lock.XXXXXX)
holder_pid=
trap '[ -z "$holder_pid" ] || kill -9 "$holder_pid" 2>/dev/null; rm -rf "$work"' EXIT
train=(train configs/mf_tiny.yaml --set run.output_dir="$work" --set train.epochs=1)

# The holder waits a minute in preflight, after taking the lock.
RF_FAULT=delay:phase=preflight_data:ms=60000 "$recforge" "${train[@]}" >"$work/holder.log" 2>&1 &
holder_pid=$!
for _ in $(seq 100); do
  [ -s "$work/mf_tiny/.lock" ] && break
  sleep 0.1
done
[ -s "$work/mf_tiny/.lock" ] || { cat "$work/holder.log"; echo "FAIL: the holder never took the lock"; exit 1; }

expect_refused() {  # launcher words before the binary
  local code=0 out
  out=$("$@" "$recforge" "${train[@]}" 2>&1) || code=$?
  [ "$code" = 1 ] || { echo "$out"; echo "FAIL: expected exit 1, got $code from: $*"; exit 1; }
  grep -q "the run directory $work/mf_tiny is in use by another job (pid $holder_pid on " <<<"$out" ||
    { echo "$out"; echo "FAIL: the refusal does not name the holder"; exit 1; }
  if [ "$#" -gt 0 ]; then  # every rank reports it, and the job ends without MPI_Abort
    [ "$(grep -c "is in use by another job" <<<"$out")" -ge 2 ] || { echo "$out"; echo "FAIL: one rank's report"; exit 1; }
    if grep -q "MPI_ABORT" <<<"$out"; then echo "$out"; echo "FAIL: MPI_Abort"; exit 1; fi
  fi
}
expect_refused
[ -z "$mpirun" ] || expect_refused "$mpirun" -np 2 --oversubscribe --bind-to none

kill -9 "$holder_pid"
wait "$holder_pid" 2>/dev/null || true
holder_pid=
"$recforge" "${train[@]}" >"$work/after.log" 2>&1 ||
  { cat "$work/after.log"; echo "FAIL: the run directory stayed locked after its holder died"; exit 1; }
echo "PASS: a second job is refused while the first holds the run directory, and runs once it died"
