#!/usr/bin/env bash
# Ranks asked to resume from different checkpoints (RELIABILITY C3): rank 0 gets
# one run directory, rank 1 another (mpirun's MPMD form). The job must refuse
# before training, with an error that names the disagreeing rank and both
# directories; the same job with one --resume for both ranks resumes.
#   cross_rank_resume_test.sh <recforge>
set -u
recforge=$1
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/testing/job_test_env.sh
source "$here/../testing/job_test_env.sh" c3
cat >"$work/job.yaml" <<YAML
run: {output_dir: $work/runs, log_level: info}
data: {format: synthetic, synthetic: {preset: tiny}, split: {method: leave_one_out}, cache: false}
model: {type: mf, factors: 8, loss: bpr}
train: {epochs: 2, batch_size: 64}
YAML
mpi=(mpirun --oversubscribe --bind-to none -x OMP_NUM_THREADS)
for run in a b; do
  "${mpi[@]}" -np 2 "$recforge" train "$work/job.yaml" --set run.name=$run --set "train.epochs=$([ "$run" = a ] && echo 1 || echo 2)" \
    >"$work/out" 2>&1 || fail "training run $run failed"
done
timeout 60 "${mpi[@]}" -np 1 "$recforge" train "$work/job.yaml" --set train.epochs=3 --resume "$work/runs/a" : \
  -np 1 "$recforge" train "$work/job.yaml" --set train.epochs=3 --resume "$work/runs/b" >"$work/out" 2>&1
code=$?
[ "$code" -ne 0 ] || fail "ranks resuming from different runs trained"
[ "$code" -ne 124 ] || fail "the job hung"
grep -q "rank 1" "$work/out" || fail "the error does not name rank 1"
grep -q "$work/runs/a" "$work/out" && grep -q "$work/runs/b" "$work/out" || fail "the error does not name both directories"
! grep -q "resumed from" "$work/out" || fail "a rank resumed before the refusal"
error=$(grep -m1 -o 'rank 0 and rank 1 .*' "$work/out" | cut -c1-300)
"${mpi[@]}" -np 2 "$recforge" train "$work/job.yaml" --set train.epochs=3 --resume "$work/runs/a" >"$work/out" 2>&1 ||
  fail "resuming both ranks from one run failed"
grep -q "resumed from" "$work/out" || fail "the consistent resume did not resume"
echo "ok: refused with exit $code: $error"
echo "RELIABILITY C3 trials=1 passed=1"
