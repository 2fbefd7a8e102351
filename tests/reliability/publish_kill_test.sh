#!/usr/bin/env bash
# Crash consistency of checkpoint publishing (RELIABILITY F5, C4's kill during
# retention): a trainer publishes a version every step (keep_last 2, so old
# versions are deleted as fast as new ones appear) and is SIGKILLed at a random
# moment, <trials> times. After every kill, every committed version must match
# its manifest (size, SHA-256) and read completely (checkpoint_tool.py verify,
# h5py: a reader that is not recforge); at the end recforge itself resumes from
# the newest one and finishes.
#   publish_kill_test.sh <recforge> [trials, default 20]
set -u
recforge=$1; trials=${2:-20}
here=$(cd "$(dirname "$0")" && pwd)
tool=(/usr/bin/python3 "$here/../checkpoint/checkpoint_tool.py")
# shellcheck source=tests/testing/job_test_env.sh
source "$here/../testing/job_test_env.sh" publish
cat >"$work/job.yaml" <<YAML
run: {name: publish, output_dir: $work/runs, log_level: info}
data: {format: synthetic, synthetic: {preset: tiny}, split: {method: leave_one_out}, cache: false}
model: {type: mf, factors: 32, loss: bpr}
train: {epochs: 100000, batch_size: 64}
checkpoint: {every_steps: 1, keep_last: 2}
YAML
ckpt=$work/runs/publish/checkpoints
seed=${RECFORGE_TEST_SEED:-$RANDOM}
RANDOM=$seed
echo "seed $seed"
newest_version() { find "$ckpt" -mindepth 1 -maxdepth 1 -name 'step-*' -printf '%f\n' 2>/dev/null | sort | tail -n 1; }
for trial in $(seq 1 "$trials"); do
  "$recforge" train "$work/job.yaml" >"$work/out" 2>&1 &
  pid=$!
  # Kill 0.05 to 1.5 s after this run published its first version.
  before=$(newest_version)
  for _ in $(seq 400); do
    latest=$(newest_version)
    [ -n "$latest" ] && [ "$latest" != "$before" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/out"; fail "trial $trial: the writer exited before the kill"; }
    sleep 0.05
  done
  delay=$(awk -v r=$RANDOM 'BEGIN {printf "%.3f", 0.05 + 1.45 * r / 32767}')
  sleep "$delay"
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null
  out=$("${tool[@]}" verify "$ckpt") || fail "trial $trial (seed $seed, killed ${delay}s in): $out"
  echo "trial $trial: killed ${delay}s in; $out"
done
# recforge's own loader picks the newest committed version (and cleans up what
# the kills left) and finishes a short continuation.
newest=$("${tool[@]}" latest "$ckpt")
step=$((10#${newest##*step-}))
"$recforge" train "$work/job.yaml" --set "train.max_steps=$((step + 5))" >"$work/out" 2>&1 ||
  { tail -n 20 "$work/out"; fail "recforge could not resume from step $step after the kills"; }
grep -q "resumed from" "$work/out" || fail "the final run did not resume"
leftovers=$(find "$ckpt" -mindepth 1 -maxdepth 1 -printf '%f\n' | grep -vE '^(step-[0-9]{10}|LATEST)$' || true)
[ -z "$leftovers" ] || fail "left in the checkpoint directory after a clean run: $leftovers"
echo "RELIABILITY F5 trials=$trials passed=$trials"
