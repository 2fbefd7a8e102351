#!/usr/bin/env bash
# Restart-from-latest for recforge jobs (RELIABILITY F1, F9): runs the command
# and, while it fails, runs it again resuming from the latest committed
# checkpoint of its run directory, at most --max-restarts times:
#   launch/restart.sh [--max-restarts N] -- launch/mpirun.sh -np 4 build/bin/recforge train job.yaml
# Restarts append `--set checkpoint.resume=auto` to the command (the recforge
# arguments come last, as with mpirun), so a job configured with
# `resume: never` continues too, and one killed before its first checkpoint
# starts afresh. Every attempt sees
# RECFORGE_RESTART_ATTEMPT=0, 1, ... (launch/mpirun.sh passes RECFORGE_* to
# the ranks). Exit status: 0 when an attempt succeeds; 75 when the last allowed
# restart failed too (the attempts' exit codes are printed); 130 at once when
# an attempt was interrupted (Ctrl-C). A graceful stop (SIGUSR1) exits 0.
set -uo pipefail
max_restarts=3
while [ $# -gt 0 ]; do
  case "$1" in
    --max-restarts) max_restarts=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "restart.sh: unknown option $1 (usage: restart.sh [--max-restarts N] -- command...)" >&2; exit 2 ;;
  esac
done
[ $# -gt 0 ] || { echo "restart.sh: no command (usage: restart.sh [--max-restarts N] -- command...)" >&2; exit 2; }
[[ "$max_restarts" =~ ^[0-9]+$ ]] || { echo "restart.sh: --max-restarts must be a number, got '$max_restarts'" >&2; exit 2; }

stamp() { date '+%F %T.%3N'; }
codes=()
for attempt in $(seq 0 "$max_restarts"); do
  export RECFORGE_RESTART_ATTEMPT=$attempt
  if [ "$attempt" -eq 0 ]; then
    "$@"
  else
    echo "[$(stamp)] restart.sh: restart $attempt of $max_restarts from the latest checkpoint" >&2
    "$@" --set checkpoint.resume=auto
  fi
  code=$?
  [ "$code" -eq 0 ] && exit 0
  # 130: interrupted by the user (Ctrl-C): not a failure to retry.
  [ "$code" -eq 130 ] && exit 130
  codes+=("$code")
  echo "[$(stamp)] restart.sh: attempt $attempt ended with exit code $code" >&2
done
echo "restart.sh: giving up after $max_restarts restarts (exit codes: ${codes[*]})" >&2
exit 75
