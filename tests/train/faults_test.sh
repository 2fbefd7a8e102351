#!/usr/bin/env bash
# End-to-end fault tests of a 2-rank `recforge train` under mpirun:
#   faults_test.sh <recforge binary> <case> [trials, default 1]
#   throw     rank 1 throws at step S: the job ends within seconds with rank 1's message
#   stop      rank 1 SIGSTOPs itself: the watchdog ends the job within timeout + 10 s,
#             naming the collective and the silent rank (RELIABILITY F6)
#   nan       rank 1's loss turns NaN: both ranks stop at that step, exit code 5 (N1)
#   nan_grad  a value of rank 1's gradient turns NaN: the same, the parameter named (N1)
#   huge_grad every rank's gradient of MF's global bias (loss mse) is 3e38,
#             finite, and their sum is not: both ranks stop at that step with
#             the exchange named, exit code 5, no non-finite checkpoint (N1)
#   nan_param an embedding row the step used turns NaN, on rank 1 in odd trials and
#             rank 0 in even ones: the same, the parameter named (N1); in every nan
#             case no committed checkpoint holds a non-finite value, and (as for
#             desync and flip, which every rank decides alike) both ranks' reports
#             reach the output and the job ends without MPI_Abort
#   late_stop rank 0's loss turns NaN and rank 1 is held before the barrier that
#             ends the agreed stop: rank 0 aborts the job after 10 s, exit code 5
#   skip      nan_policy skip_step and rank 1's loss NaN at the last step S: exit 0,
#             and the parameters and Adam moments equal a clean run's after S steps
#   clean     10,000 steps without a fault: no false alarm (fingerprints every 10)
#   desync    rank 1 skips a collective: detected and named, exit code 4 (F7)
#   oom       rank 1's allocation fails: the job is down within 5 s, exit non-zero (F10)
#   oom_limit rank 1 runs under a real address-space limit (prlimit --as, 4 GiB) and
#             allocates 8 GiB at step S (RF_FAULT=alloc): operator new fails, the job
#             is down within 5 s, exit non-zero, the checkpoints written before
#             verify; the first trial also runs it without the limit, which must
#             finish (the limit, not the fault, ends the job) (F10)
#   flip      one mantissa bit of rank 1's parameters flips: the fingerprint check
#             (every 10 steps) names both ranks within 10 steps, exit code 4 (N2)
#   sigusr1   SIGUSR1 to mpirun: both ranks finish the step and exit 0 within 10 s (F8)
#   sigusr1_nosave  the same with checkpoint.enabled false: exit 0, and the log says
#             that nothing was saved (no --resume advice for a run that cannot)
#   sigterm   SIGTERM to mpirun (which SIGKILLs the ranks soon after): the job ends
#             within 10 s and every committed checkpoint still verifies (F8)
# The fault step S is random per trial (seed printed; RECFORGE_TEST_SEED replays).
set -u
recforge=$1; case=$2; trials=${3:-1}
work=$(mktemp -d /tmp/recforge-faults.XXXXXX)
trap '[ -n "${KEEP_WORK:-}" ] || rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
cat >"$work/job.yaml" <<YAML
run: {name: faults, output_dir: $work/runs, log_level: info}
data: {format: synthetic, synthetic: {preset: tiny}, split: {method: leave_one_out}, cache: false}
model: {type: mf, factors: 8, loss: bpr}
train: {epochs: 100000, batch_size: 64, log_every: 1000, fingerprint_every: 10}
comm: {watchdog_timeout: 5}
YAML
mpi=(mpirun -np 2 --oversubscribe --bind-to none -x RF_FAULT -x OMP_NUM_THREADS)
fail() { echo "FAIL ($case): $*"; echo "--- output ---"; tail -n 30 "$work/out"; exit 1; }
now() { date +%s.%N; }
elapsed_since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}'; }
expect_text() { grep -q -- "$1" "$work/out" || fail "output lacks: $1"; }
# An agreed failure (every rank decided it from one collective) ends in order:
# both ranks' reports reach the output, and no rank aborts the job.
expect_both_ranks_report() {
  [ "$(grep -c "\[error\] rank [01]: $1" "$work/out")" -eq 2 ] || fail "not both ranks reported: $1"
  ! grep -q "MPI_ABORT was invoked" "$work/out" || fail "an agreed stop went through MPI_Abort"
}
# Every committed version verifies and holds only finite values (none may
# have been written from the poisoned state).
expect_finite_checkpoints() {
  [ -d "$work/runs/faults/checkpoints" ] || return 0
  /usr/bin/python3 "$here/../checkpoint/checkpoint_tool.py" verify "$work/runs/faults/checkpoints" >"$work/verify" ||
    { cat "$work/verify"; fail "a committed checkpoint does not verify or holds a non-finite value"; }
}

seed=${RECFORGE_TEST_SEED:-$RANDOM}
RANDOM=$seed
declare -A reliability_id=([oom_limit]=F10 [huge_grad]=N1 [nan_grad]=N1 [nan_param]=N1 [skip]=N1 [clean]=N1 [stop]=F6 [desync]=F7 [sigusr1]=F8 [sigusr1_nosave]=F8 [sigterm]=F8 [oom]=F10 [nan]=N1 [late_stop]=N1 [flip]=N2 [throw]=F2)
here=$(cd "$(dirname "$0")" && pwd)

# Starts the job (extra arguments go to `recforge train`), sends SIG<$1> to
# mpirun 1 to 3 s into training and waits: sets $code and $took (seconds from
# the signal to the end).
signal_running_job() {
  local signal=$1 pid start
  shift
  unset RF_FAULT
  rm -rf "$work/runs"
  "${mpi[@]}" "$recforge" train "$work/job.yaml" "$@" >"$work/out" 2>&1 &
  pid=$!
  for _ in $(seq 600); do grep -q "training mf" "$work/out" 2>/dev/null && break; sleep 0.2; done
  # A signal before the handlers are in place would kill the job: say so, not a wrong exit code.
  grep -q "training mf" "$work/out" || { kill -9 "$pid" 2>/dev/null; fail "the job did not start training within 120 s"; }
  sleep "$(( RANDOM % 3 + 1 ))"
  start=$(now)
  kill "-$signal" "$pid"
  wait "$pid"
  code=$?
  took=$(elapsed_since "$start")
}

one_trial() {
  local step=$(( RANDOM % 60 + 5 ))
  case "$case" in
  throw|stop|nan|nan_grad|huge_grad|nan_param|desync|oom|flip)
    local rank=1 extra=()
    [ "$case" = nan_param ] && rank=$(( trial % 2 ))
    case "$case" in
      desync) export RF_FAULT=skip_collective:rank=1:step=$step ;;
      nan_param) export RF_FAULT=nan_param:rank=$rank:step=$step ;;
      # Every rank (no rank=), on a dense parameter (all-reduced, not merged by row).
      huge_grad) export RF_FAULT=huge_grad:step=$step; extra=(--set model.loss=mse) ;;
      *) export RF_FAULT=$case:rank=1:step=$step ;;
    esac
    start=$(now)
    timeout 120 "${mpi[@]}" "$recforge" train "$work/job.yaml" "${extra[@]}" >"$work/out" 2>&1
    code=$?
    took=$(elapsed_since "$start")
    [ "$code" -ne 0 ] || fail "the job exited 0"
    [ "$code" -ne 124 ] || fail "the job hung until timeout(1) killed it"
    case "$case" in
      throw)
        expect_text "rank 1: internal error: injected fault (RF_FAULT) on rank 1 at step $step"
        awk -v t="$took" 'BEGIN {exit !(t < 15)}' || fail "took ${took}s to end (limit 15)" ;;
      stop)
        expect_text "did not complete within 5 s (watchdog timeout)"
        expect_text "rank 1 has not responded for"
        awk -v t="$took" 'BEGIN {exit !(t < 5 + 10 + 5)}' || fail "took ${took}s (limit: timeout 5 + 10 + 5 start-up)" ;;
      nan)
        [ "$code" -eq 5 ] || fail "exit code $code, expected 5"
        expect_text "step $step: 1 non-finite values in the loss, gradients or parameters used"
        expect_text "rank 1 found the loss"
        expect_both_ranks_report "numerical error: step $step: "
        expect_finite_checkpoints ;;
      nan_grad)
        [ "$code" -eq 5 ] || fail "exit code $code, expected 5"
        expect_text "step $step: [0-9]* non-finite values in the loss, gradients or parameters used"
        expect_text "step $step: rank 1 found 1 in the gradient of '"
        expect_both_ranks_report "numerical error: step $step: "
        expect_finite_checkpoints ;;
      huge_grad)
        [ "$code" -eq 5 ] || fail "exit code $code, expected 5"
        expect_text "step $step: the gradients after the exchange hold [0-9]* non-finite values although every rank's own were finite"
        expect_both_ranks_report "numerical error: step $step: "
        expect_finite_checkpoints ;;
      nan_param)
        [ "$code" -eq 5 ] || fail "exit code $code, expected 5"
        expect_text "step $step: [0-9]* non-finite values in the loss, gradients or parameters used"
        expect_text "step $step: rank $rank found .*[0-9] in the values of '"
        expect_both_ranks_report "numerical error: step $step: "
        expect_finite_checkpoints ;;
      desync)
        [ "$code" -eq 4 ] || fail "exit code $code, expected 4"
        expect_text "collective desync: rank 0 issues #"
        expect_both_ranks_report "communication error: collective desync" ;;
      oom)
        expect_text "RF_FAULT: injecting 'oom' on rank 1 at step $step"
        expect_text "out of memory"
        injected=$(sed -nE 's/^\[([0-9-]+ [0-9:.]+)\] .*RF_FAULT: injecting.*/\1/p' "$work/out" | head -1)
        local down
        down=$(awk -v a="$(date -d "$injected" +%s.%N)" -v b="$(now)" 'BEGIN {printf "%.2f", b - a}')
        awk -v t="$down" 'BEGIN {exit !(t < 5 + 1)}' || fail "the job was down ${down}s after the fault (limit 5)" ;;
      flip)
        [ "$code" -eq 4 ] || fail "exit code $code, expected 4"
        local detected=$(( (step / 10 + 1) * 10 - 1 ))
        expect_text "parameters diverged across ranks at step $detected: rank 0 has fingerprint"
        expect_text ", rank 1 has "
        expect_both_ranks_report "communication error: parameters diverged" ;;
    esac
    echo "ok ($case at step $step, seed $seed): exit $code after ${took}s"
    ;;
  oom_limit)
    # CPU ranks with no GPU visible: a CUDA context reserves far more address
    # space than the limit (on a GPU machine the limit would fail at start-up).
    local cpu=(--set checkpoint.every_steps=5 --set run.device=cpu)
    local limited=(mpirun --oversubscribe --bind-to none -x RF_FAULT -x OMP_NUM_THREADS -x CUDA_VISIBLE_DEVICES=
                   -np 1 "$recforge" train "$work/job.yaml" "${cpu[@]}" :
                   -np 1 prlimit --as=$(( 4 << 30 )) "$recforge" train "$work/job.yaml" "${cpu[@]}")
    export RF_FAULT=alloc:rank=1:step=$step:mb=8192
    if [ "$trial" -eq 1 ]; then
      timeout 120 "${mpi[@]}" -x CUDA_VISIBLE_DEVICES= "$recforge" train "$work/job.yaml" --set run.device=cpu \
        --set train.max_steps=$(( step + 5 )) >"$work/out" 2>&1 || fail "without the limit, the 8 GiB allocation failed or the job did (negative control)"
      expect_text "RF_FAULT: injecting 'alloc' on rank 1 at step $step"
      rm -rf "$work/runs"
    fi
    timeout 120 "${limited[@]}" >"$work/out" 2>&1
    code=$?
    [ "$code" -ne 0 ] || fail "the job exited 0 under the limit"
    [ "$code" -ne 124 ] || fail "the job hung until timeout(1) killed it"
    expect_text "rank 1: out of memory (host allocation failed); the job stops"
    injected=$(sed -nE 's/^\[([0-9-]+ [0-9:.]+)\] .*RF_FAULT: injecting.*/\1/p' "$work/out" | head -1)
    local down
    down=$(awk -v a="$(date -d "$injected" +%s.%N)" -v b="$(now)" 'BEGIN {printf "%.2f", b - a}')
    awk -v t="$down" 'BEGIN {exit !(t < 5 + 1)}' || fail "the job was down ${down}s after the fault (limit 5)"
    if [ "$step" -ge 5 ]; then
      /usr/bin/python3 "$here/../checkpoint/checkpoint_tool.py" verify "$work/runs/faults/checkpoints" >"$work/verify" ||
        { cat "$work/verify"; fail "the checkpoints written before the failure do not verify"; }
    fi
    echo "ok (oom_limit at step $step, seed $seed): exit $code, down ${down}s after; $(cat "$work/verify" 2>/dev/null)"
    ;;
  late_stop)
    # Rank 1 is held before the barrier that ends an agreed stop (rank 0's NaN
    # at step S): rank 0 waits 10 s for it (kStopTogetherSeconds), then aborts
    # the job rather than hang.
    unset RF_FAULT
    start=$(now)
    timeout 120 mpirun --oversubscribe --bind-to none -x OMP_NUM_THREADS \
      -np 1 env RF_FAULT=nan:rank=0:step=$step "$recforge" train "$work/job.yaml" : \
      -np 1 env RF_FAULT=delay:phase=stop_together:ms=60000 "$recforge" train "$work/job.yaml" >"$work/out" 2>&1
    code=$?
    took=$(elapsed_since "$start")
    [ "$code" -eq 5 ] || fail "exit code $code, expected 5"
    expect_text "rank 1: numerical error: step $step: "
    expect_text "rank 0: not every rank reached the agreed stop within 10 s; aborting the job"
    awk -v t="$took" 'BEGIN {exit !(t < 10 + 15)}' || fail "took ${took}s (limit: 10 s wait + 15 s start-up)"
    echo "ok (late_stop at step $step, seed $seed): exit 5 after ${took}s"
    ;;
  skip)
    # The reference stops after S clean steps; the faulty run's step S (its
    # last) is skipped on both ranks, so nothing of it may reach the state.
    unset RF_FAULT
    rm -rf "$work/runs"
    local adam=(--set train.optimizer.type=adam --set train.optimizer.lr=0.01 --set checkpoint.every_epochs=0)
    timeout 120 "${mpi[@]}" "$recforge" train "$work/job.yaml" "${adam[@]}" --set run.name=reference \
      --set train.max_steps=$step >"$work/out" 2>&1 || fail "the reference run failed"
    export RF_FAULT=nan:rank=1:step=$step
    timeout 120 "${mpi[@]}" "$recforge" train "$work/job.yaml" "${adam[@]}" --set run.name=skipped \
      --set train.max_steps=$(( step + 1 )) --set train.nan_policy=skip_step >"$work/out" 2>&1
    code=$?
    [ "$code" -eq 0 ] || fail "exit code $code with nan_policy skip_step, expected 0"
    expect_text "step $step: skipped (1 non-finite values; train.nan_policy: skip_step)"
    /usr/bin/python3 "$here/../checkpoint/checkpoint_tool.py" same-params --ignore-step \
      "$work/runs/reference/checkpoints" "$work/runs/skipped/checkpoints" >"$work/cmp" ||
      { cat "$work/cmp"; fail "the skipped step changed parameters or optimizer state"; }
    echo "ok (skip at step $step, seed $seed): exit 0, state equal to $step clean steps"
    ;;
  clean)
    unset RF_FAULT
    rm -rf "$work/runs"
    timeout 600 "${mpi[@]}" "$recforge" train "$work/job.yaml" --set train.max_steps=10000 \
      --set checkpoint.every_epochs=0 >"$work/out" 2>&1
    code=$?
    [ "$code" -eq 0 ] || fail "exit code $code over 10,000 clean steps"
    ! grep -qi "non-finite\|skipped\|diverged" "$work/out" || fail "a false alarm: $(grep -i "non-finite\|skipped\|diverged" "$work/out" | head -1)"
    local last
    last=$(/usr/bin/python3 "$here/../checkpoint/checkpoint_tool.py" latest "$work/runs/faults/checkpoints")
    [[ "$last" == *step-*10000 ]] || fail "the final checkpoint is $last, not step 10000"
    echo "ok (clean): 10,000 steps, 1,000 fingerprint and 10,000 non-finite checks, no alarm"
    ;;
  sigusr1)
    signal_running_job USR1
    [ "$code" -eq 0 ] || fail "exit code $code after SIGUSR1, expected 0"
    expect_text "(SIGUSR1)"
    compgen -G "$work/runs/faults/checkpoints/step-*" >/dev/null || fail "no checkpoint was committed on the graceful stop"
    awk -v t="$took" 'BEGIN {exit !(t < 10)}' || fail "took ${took}s to stop (limit 10)"
    echo "ok (sigusr1): exit 0 ${took}s after the signal, checkpoint committed"
    ;;
  sigusr1_nosave)
    signal_running_job USR1 --set checkpoint.enabled=false
    [ "$code" -eq 0 ] || fail "exit code $code after SIGUSR1, expected 0"
    expect_text "checkpoint.enabled false: nothing was saved"
    ! grep -q -- "--resume" "$work/out" || fail "the log advises --resume though nothing was saved"
    echo "ok (sigusr1_nosave): exit 0, the log says nothing was saved"
    ;;
  sigterm)
    signal_running_job TERM --set checkpoint.every_steps=20 --set checkpoint.keep_last=2
    [ "$code" -ne 0 ] || fail "exit code 0 after SIGTERM (the job was killed, it cannot have finished)"
    awk -v t="$took" 'BEGIN {exit !(t < 10)}' || fail "took ${took}s to end after SIGTERM (limit 10)"
    /usr/bin/python3 "$here/../checkpoint/checkpoint_tool.py" verify "$work/runs/faults/checkpoints" >"$work/verify" ||
      { cat "$work/verify"; fail "a committed checkpoint does not verify after SIGTERM"; }
    echo "ok (sigterm): exit $code ${took}s after the signal; $(cat "$work/verify")"
    ;;
  *) echo "unknown case $case"; exit 2 ;;
  esac
}

for trial in $(seq 1 "$trials"); do rm -rf "$work/runs"; one_trial; done
echo "RELIABILITY ${reliability_id[$case]} trials=$trials passed=$trials"
