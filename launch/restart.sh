#!/usr/bin/env bash
# Restart-from-latest for recforge jobs (RELIABILITY F1, F9): runs the command
# and, while it fails, runs it again resuming from the latest committed
# checkpoint of its run directory, at most --max-restarts times:
#   launch/restart.sh [--max-restarts N] [--delay S] [--final-codes LIST] -- launch/mpirun.sh -np 4 build/bin/recforge train job.yaml
# Restarts append `--set checkpoint.resume=auto` to the command (the recforge
# arguments come last, as with mpirun), so a job configured with
# `resume: never` continues too, and one killed before its first checkpoint
# starts afresh. Every attempt sees RECFORGE_RESTART_ATTEMPT=0, 1, ...
# (launch/mpirun.sh passes RECFORGE_* to the ranks); --delay S waits S seconds
# before each restart.
#
# Not restarted: an exit code in --final-codes (default 2,3,5: a config or
# usage error, a data error, a numerical stop; a resumed run would only repeat
# them), 130 and 143 (the job was interrupted or terminated), and any attempt
# during which this wrapper got SIGINT, SIGTERM or SIGHUP: it forwards the
# signal to the command and exits 128 + the signal's number once the command
# ends (0 if the command still ended successfully). SIGUSR1 is forwarded too
# (a graceful stop: the job checkpoints and exits 0, and so does the wrapper;
# a job that fails after it is not restarted and its code is the wrapper's;
# one that comes between attempts ends the wrapper with the last attempt's
# code, no restart).
# Exit status: 0 when an attempt succeeds; a final code as is; 75 when the last
# allowed restart failed too (the attempts' exit codes are printed); 2 for a
# bad invocation.
set -uo pipefail
usage="usage: restart.sh [--max-restarts N] [--delay SECONDS] [--final-codes LIST] -- command..."
max_restarts=3 delay=0 final_codes=2,3,5
while [ $# -gt 0 ]; do
  case "$1" in
    --max-restarts|--delay|--final-codes)
      [ $# -ge 2 ] || { echo "restart.sh: $1 needs a value ($usage)" >&2; exit 2; }
      case "$1" in
        --max-restarts) max_restarts=$2 ;;
        --delay) delay=$2 ;;
        --final-codes) final_codes=$2 ;;
      esac
      shift 2 ;;
    --) shift; break ;;
    *) echo "restart.sh: unknown option $1 ($usage)" >&2; exit 2 ;;
  esac
done
[ $# -gt 0 ] || { echo "restart.sh: no command ($usage)" >&2; exit 2; }
[[ "$max_restarts" =~ ^[0-9]+$ ]] || { echo "restart.sh: --max-restarts must be a number, got '$max_restarts'" >&2; exit 2; }
[[ "$delay" =~ ^[0-9]+$ ]] || { echo "restart.sh: --delay must be a whole number of seconds, got '$delay'" >&2; exit 2; }
[[ "$final_codes" =~ ^([0-9]+(,[0-9]+)*)?$ ]] ||
  { echo "restart.sh: --final-codes must be a comma-separated list of exit codes, got '$final_codes'" >&2; exit 2; }

stamp() { date '+%F %T.%3N'; }
child='' stopped_by='' graceful=''
# The command runs in the background so these traps run while it does.
forwarded=0
forward() { forwarded=$((forwarded + 1)); [ -z "$child" ] || kill "-$1" "$child" 2>/dev/null; }
# A graceful stop between attempts (no job running) means: no further attempt.
trap 'graceful=1; forward USR1' USR1
trap 'stopped_by=INT; forward INT' INT
trap 'stopped_by=TERM; forward TERM' TERM
trap 'stopped_by=HUP; forward HUP' HUP

# Runs the command and waits for its end through any trapped signal. A wait
# a trap interrupts returns 128 + the signal's number, even when the command
# ends just after (a job that stops at once on a forwarded signal): then the
# command's own status comes from one more wait (bash keeps it).
run_attempt() {
  # Bash starts a background command with SIGINT ignored; the command gets
  # the default back so a forwarded Ctrl-C reaches one that sets no handler.
  (trap - INT QUIT; exec "$@") &
  child=$!
  local before
  while :; do
    before=$forwarded
    wait "$child"
    code=$?
    kill -0 "$child" 2>/dev/null && continue  # interrupted; still running
    if [ "$forwarded" != "$before" ] && [ "$code" -gt 128 ]; then wait "$child"; code=$?; fi
    break
  done
  child=''
}

codes=()
stop_if_signalled() {
  [ -n "$stopped_by" ] || return 0
  echo "restart.sh: stopped by SIG$stopped_by; not restarting" >&2
  exit $(( 128 + $(kill -l "$stopped_by") ))
}

for attempt in $(seq 0 "$max_restarts"); do
  stop_if_signalled  # (a signal during --delay)
  if [ -n "$graceful" ] && [ "$attempt" -gt 0 ]; then  # (during --delay: the last attempt's code stands)
    echo "restart.sh: graceful stop (SIGUSR1) requested; not restarting" >&2
    exit "$code"
  fi
  export RECFORGE_RESTART_ATTEMPT=$attempt
  if [ "$attempt" -eq 0 ]; then
    run_attempt "$@"
  else
    echo "[$(stamp)] restart.sh: restart $attempt of $max_restarts from the latest checkpoint" >&2
    run_attempt "$@" --set checkpoint.resume=auto
  fi
  [ "$code" -eq 0 ] && exit 0
  echo "[$(stamp)] restart.sh: attempt $attempt ended with exit code $code" >&2
  stop_if_signalled
  if [ -n "$graceful" ]; then  # asked to stop: the job's failure is the answer, not a restart
    echo "restart.sh: graceful stop (SIGUSR1) requested; not restarting" >&2
    exit "$code"
  fi
  if [ "$code" -eq 130 ] || [ "$code" -eq 143 ] || [[ ",$final_codes," == *",$code,"* ]]; then
    echo "restart.sh: exit code $code is final (a restart would repeat it; see --final-codes); not restarting" >&2
    exit "$code"
  fi
  codes+=("$code")
  # In the background, so a signal during the delay is handled at once.
  if [ "$attempt" -lt "$max_restarts" ] && [ "$delay" -gt 0 ] && [ -z "$graceful$stopped_by" ]; then
    sleep "$delay" &
    sleeper=$!
    wait "$sleeper" || true
    kill "$sleeper" 2>/dev/null  # (a signal ended the wait: the sleep would outlive the wrapper)
  fi
done
echo "restart.sh: giving up after $max_restarts restarts (exit codes: ${codes[*]})" >&2
exit 75
