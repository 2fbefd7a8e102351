#!/usr/bin/env bash
# Kill and restart under mpirun -np 2 (RELIABILITY.md F1/F2):
#   kill_resume_test.sh <recforge> <trials> <rank> [signal kinds...]
# Runs the job once uninterrupted; then, per trial, runs it under
# launch/restart.sh with rank <rank> killed at a random step of the first
# attempt (RF_FAULT=<kind>:rank=R:step=S:attempt=0; kinds: kill, segv, abort,
# exit; or kill@<phase>: SIGKILL inside the first checkpoint save at or after
# step S, at that phase of publishing (RELIABILITY F4): checkpoint_mid_data
# (halfway through writing the HDF5 file), checkpoint_after_data,
# checkpoint_before_rename, checkpoint_before_dir_fsync, checkpoint_after_rename,
# retention_after_rename),
# checks that attempt ends non-zero within 5 s of the fault, that the
# wrapper's restart resumed from the latest checkpoint and finished, and that
# the final parameters and optimizer state are bit-identical to the
# uninterrupted run's. Each trial prints its seed and step for replay.
#
# Negative controls (RELIABILITY F3), through the same mpirun and restart:
#   NEGATIVE=optimizer|position|latest kill_resume_test.sh ...
# resumes with that part deliberately not restored (RF_RESTORE_SKIP, fault-
# injection builds): optimizer and position must make the comparison fail;
# latest (the previous version restored) replays steps and, resume being exact,
# may still match, so it must show in the resume position instead.
set -u
recforge=$1; trials=${2:-3}; rank=${3:-1}; shift 3
kinds=("$@"); [ ${#kinds[@]} -gt 0 ] || kinds=(kill)
here=$(cd "$(dirname "$0")" && pwd)
tool=(/usr/bin/python3 "$here/checkpoint_tool.py")
restart=$here/../../launch/restart.sh
work=$(mktemp -d /tmp/recforge-kill.XXXXXX)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive RECFORGE_RESTART_ATTEMPT=0
cat >"$work/job.yaml" <<YAML
run: {output_dir: $work/runs, log_level: info}
data: {format: synthetic, synthetic: {preset: tiny}, split: {method: leave_one_out}, cache: false}
model: {type: mf, factors: 8, loss: bpr}
train: {epochs: 4, batch_size: 64, optimizer: {lr: 2.0, momentum: 0.9, weight_decay: 0.001}}
checkpoint: {every_steps: 3, keep_last: 2}
YAML
negative=${NEGATIVE:-}
mpi=(mpirun -np 2 --oversubscribe --bind-to none -x RF_FAULT -x OMP_NUM_THREADS -x RECFORGE_RESTART_ATTEMPT)
fail() { echo "FAIL: $*"; [ -f "$work/out" ] && tail -n 20 "$work/out"; exit 1; }

"${mpi[@]}" "$recforge" train "$work/job.yaml" --set run.name=reference >"$work/out" 2>&1 || fail "the reference run failed"
total=$(/usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]+'/MANIFEST.json'))['step'])" \
        "$("${tool[@]}" latest "$work/runs/reference/checkpoints")")
seed=${RECFORGE_TEST_SEED:-$RANDOM}
echo "seed $seed, $total steps per run"
RANDOM=$seed
for trial in $(seq 1 "$trials"); do
  kind=${kinds[$(( (trial - 1) % ${#kinds[@]} ))]}
  # After the first checkpoint (step 3) is published: a run killed before it
  # has nothing to resume (the restart would start afresh, not test a resume).
  step=$(( RANDOM % (total - 5) + 4 ))
  # The previous-version control needs two versions before the fault (steps 3, 6).
  [ "$negative" = latest ] && step=$(( RANDOM % (total - 8) + 7 ))
  name=trial$trial
  fault=$kind:rank=$rank:step=$step:attempt=0
  [[ "$kind" == *@* ]] && fault=${kind%@*}:rank=$rank:phase=${kind#*@}:step=$step:attempt=0
  RF_FAULT=$fault RF_RESTORE_SKIP=$negative timeout 180 "$restart" --max-restarts 3 -- \
    "${mpi[@]}" -x RF_RESTORE_SKIP "$recforge" train "$work/job.yaml" --set run.name=$name >"$work/out" 2>&1
  code=$?
  [ "$code" -eq 0 ] || fail "trial $trial ($kind at step $step): the restarted job failed (exit $code)"
  # From the fault (the rank's own log line, flushed before it dies) to the end
  # of the first attempt's mpirun (the wrapper's line): < 5 s.
  injected=$(sed -nE 's/^\[([0-9-]+ [0-9:.]+)\] .*RF_FAULT: injecting.*/\1/p' "$work/out" | head -1)
  [ -n "$injected" ] || fail "trial $trial: no RF_FAULT line in the output"
  ended=$(sed -nE 's/^\[([0-9-]+ [0-9:.]+)\] restart.sh: attempt 0 ended with exit code ([0-9]+)$/\1 \2/p' "$work/out")
  [ -n "$ended" ] || fail "trial $trial ($kind at step $step): the first attempt did not fail"
  code=${ended##* }
  took=$(awk -v a="$(date -d "$injected" +%s.%N)" -v b="$(date -d "${ended% *}" +%s.%N)" 'BEGIN {printf "%.2f", b - a}')
  awk -v t="$took" 'BEGIN {exit !(t < 5)}' || fail "trial $trial: the job took ${took}s to end after the fault"
  grep -q "resumed from" "$work/out" || fail "trial $trial: the restart did not resume"
  # Every version left is complete, and no temporary directory survived the restart.
  "${tool[@]}" verify "$work/runs/$name/checkpoints" >/dev/null || fail "trial $trial: a committed version does not verify"
  [ -z "$(find "$work/runs/$name/checkpoints" -mindepth 1 -maxdepth 1 \( -name '.tmp-*' -o -name '.trash-*' \))" ] ||
    fail "trial $trial: temporary directories left"
  if [ -n "$negative" ]; then
    if [ "$negative" = latest ]; then
      # The newest version committed before the fault, and the one resumed from.
      newest=$(sed -n '/restart.sh: attempt 0 ended/q; s/.*checkpoint .*\/step-0*\([0-9][0-9]*\) saved.*/\1/p' "$work/out" | tail -1)
      resumed=$(sed -nE 's/.*resumed from .*\/step-0*([0-9]+) .*/\1/p' "$work/out" | head -1)
      [ -n "$newest" ] && [ -n "$resumed" ] && [ "$resumed" -lt "$newest" ] ||
        fail "trial $trial (negative control latest): resumed from step ${resumed:-?}, the newest was ${newest:-?}"
      echo "trial $trial: negative control latest: resumed from step $resumed, not the newest $newest (seen)"
    elif "${tool[@]}" same-params "$work/runs/reference/checkpoints" "$work/runs/$name/checkpoints" >"$work/cmp"; then
      fail "trial $trial (negative control $negative, $kind at step $step, seed $seed): the comparison passed"
    else
      echo "trial $trial: negative control $negative at step $step: $(tail -1 "$work/cmp") (seen)"
    fi
    continue
  fi
  "${tool[@]}" same-params "$work/runs/reference/checkpoints" "$work/runs/$name/checkpoints" >"$work/cmp" \
    || { cat "$work/cmp"; fail "trial $trial ($kind on rank $rank at step $step, seed $seed): parameters differ"; }
  echo "trial $trial: $kind on rank $rank at step $step, job ended (exit $code) ${took}s after the fault, resumed bit-identical"
done
if [ -n "$negative" ]; then
  echo "ok: $trials/$trials negative-control trials ($negative) caught"
  echo "RELIABILITY F3 trials=$trials passed=$trials control=$negative"
  exit 0
fi
echo "ok: $trials/$trials trials bit-identical"
case "${kinds[0]}" in *@*) id=F4 ;; *) id=$([ "$rank" -eq 1 ] && echo F1 || echo F2) ;; esac
echo "RELIABILITY $id trials=$trials passed=$trials"
