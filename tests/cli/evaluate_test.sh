#!/usr/bin/env bash
# `recforge evaluate` end to end on the tiny preset.
#   evaluate_test.sh <recforge binary>            one process
#   evaluate_test.sh <recforge binary> <mpirun>   two ranks
# One process: evaluating a finished ALS run (from its run directory) gives the
# test metrics its training reported in eval.json; so does NeuMF (scored by its
# MLP, not embeddings). --repeat times N evaluations with the same metrics;
# --set changes the protocol and cut-offs. The errors: a
# model.* override, a missing validation split, other data, a missing
# directory, one without checkpoints, a missing -o directory. A corrupted
# newest version is refused and the previous one evaluated. The checkpoint
# run directory is never written (same files, sizes and times before and after).
# Two ranks: the same metrics as one process; an error on every rank, or on
# rank 0 alone while rank 1 waits, ends the job with its message.
set -uo pipefail
bin=${1:?recforge binary}
mpirun=${2:-}
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/testing/job_test_env.sh
source tests/testing/job_test_env.sh evaluate
# Compares the metrics of an evaluate -o file with a training run's eval.json
# (both write NaN as "NaN") and checks the version it names.
same_metrics() {  # evaluate json, eval.json or evaluate json, expected version, expected ranks
  /usr/bin/python3 - "$@" <<'PY' || fail "metrics differ: $*"
import json, math, sys
got, reference, version, ranks = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
doc = json.load(open(got))
want = json.load(open(reference))
want = want.get("metrics", want)
assert doc["version"] == version, (doc["version"], version)
assert doc["ranks"] == ranks and doc["split"] == "test", doc
assert list(doc["metrics"]) == list(want), (list(doc["metrics"]), list(want))
for key, value in want.items():
    if isinstance(value, str) or isinstance(doc["metrics"][key], str):  # "NaN": a metric without users
        assert doc["metrics"][key] == value, (key, doc["metrics"][key], value)
        continue
    assert math.isclose(doc["metrics"][key], value, rel_tol=1e-8, abs_tol=1e-12), (key, doc["metrics"][key], value)
print("ok:", got, "matches", reference, "at", version)
PY
}
state_of() { find "$1" -printf '%P %s %T@\n' | sort; }

"$bin" train configs/als_tiny.yaml --set run.output_dir="$work" >"$work/out" 2>&1 || fail "ALS training"
run="$work/als_tiny"
latest=$(cat "$run/checkpoints/LATEST")
before=$(state_of "$run")

if [ -n "$mpirun" ]; then
  launch=("$mpirun" -np 2 --oversubscribe --bind-to none)
  "${launch[@]}" "$bin" evaluate "$run" -o "$work/two.json" >"$work/out" 2>&1 || fail "evaluate on 2 ranks"
  grep -q "on the test split: 200 held-out interactions, 2 rank(s) on cpu" "$work/out" || fail "no 2-rank summary"
  same_metrics "$work/two.json" "$run/eval.json" "$latest" 2
  # Every rank fails (either may abort first), then rank 0 alone while rank 1
  # waits in a collective: both end the job with the message.
  expect_error 2 "config error: $run/checkpoints/$latest/checkpoint.h5 was trained on different data" \
    "${launch[@]}" "$bin" evaluate "$run" --set data.synthetic.seed=9
  expect_error 2 "rank 0: not found: -o $work/nope/m.json: the directory $work/nope does not exist" \
    "${launch[@]}" "$bin" evaluate "$run" -o "$work/nope/m.json"
  [ "$(state_of "$run")" = "$before" ] || fail "evaluate on 2 ranks changed the run directory"
  echo "ok: evaluate on 2 ranks"
  exit 0
fi

"$bin" evaluate "$run" -o "$work/one.json" >"$work/out" 2>&1 || fail "evaluate"
grep -q "^$run/checkpoints ($latest, step 5, epoch 5) on the test split: 200 held-out interactions, 1 rank(s) on cpu" \
  "$work/out" || fail "no summary line"
grep -q "^recall " "$work/out" || fail "no metrics table"
same_metrics "$work/one.json" "$run/eval.json" "$latest" 1

# --repeat: every evaluation timed, the median reported, the same metrics.
"$bin" evaluate "$run" --repeat 3 -o "$work/repeat.json" >"$work/out" 2>&1 || fail "evaluate --repeat 3"
grep -q "s (median of 3)$" "$work/out" || fail "no median in the summary line"
same_metrics "$work/repeat.json" "$work/one.json" "$latest" 1
/usr/bin/python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); assert len(r["times"]) == 3 and r["seconds"] == sorted(r["times"])[1], r' \
  "$work/repeat.json" || fail "times and median"
expect_error 2 "--repeat: Value 0 not in range" "$bin" evaluate "$run" --repeat 0
# As many sampled negatives as the catalog has items would repeat most of them.
expect_error 2 "eval.sampled_negatives 5000 is not below the number of items" \
  "$bin" evaluate "$run" --set eval.protocol=sampled --set eval.sampled_negatives=5000

# Another protocol and cut-offs: the keys follow the overrides.
"$bin" evaluate "$run/checkpoints" --set eval.protocol=sampled --set "eval.k=[5,10]" -o "$work/sampled.json" \
  >"$work/out" 2>&1 || fail "sampled evaluate"
/usr/bin/python3 - "$work/sampled.json" "$work/one.json" <<'PY' || fail "sampled metrics"
import json, sys
sampled, full = (json.load(open(p))["metrics"] for p in sys.argv[1:])
assert "recall@5" in sampled and "recall@5" not in full, sorted(sampled)
# Ranking among 99 negatives is easier than among every item.
assert sampled["hit_rate@10"] > full["hit_rate@10"], (sampled["hit_rate@10"], full["hit_rate@10"])
PY

expect_error 2 "--set model.factors=8: evaluate keeps the checkpoint's model section" \
  "$bin" evaluate "$run" --set model.factors=8
expect_error 2 "--set train.epochs=9: evaluate does not use the train section; data, eval, run and comm keys can change" \
  "$bin" evaluate "$run" --set train.epochs=9
expect_error 2 "has no valid split (it was trained without data.split.valid_ratio or validation_item)" \
  "$bin" evaluate "$run" --split valid
expect_error 2 "$run/checkpoints/$latest/checkpoint.h5 was trained on different data" \
  "$bin" evaluate "$run" --set data.synthetic.seed=9
expect_error 2 "unknown key 'eval.kk'" "$bin" evaluate "$run" --set eval.kk=1
expect_error 2 "checkpoint directory '$work/nope' does not exist" "$bin" evaluate "$work/nope"
expect_error 2 "$work has no loadable checkpoint version" "$bin" evaluate "$work"
expect_error 2 "-o $work/nope/m.json: the directory $work/nope does not exist" "$bin" evaluate "$run" -o "$work/nope/m.json"
[ "$(state_of "$run")" = "$before" ] || fail "evaluate changed the run directory"

# NeuMF ranks with its MLP (score_pairs), not with embeddings.
"$bin" train configs/ncf_tiny.yaml --set run.output_dir="$work" --set train.epochs=1 >"$work/out" 2>&1 ||
  fail "NCF training"
"$bin" evaluate "$work/ncf_tiny" -o "$work/ncf.json" >"$work/out" 2>&1 || fail "NCF evaluate"
same_metrics "$work/ncf.json" "$work/ncf_tiny/eval.json" "$(cat "$work/ncf_tiny/checkpoints/LATEST")" 1

# A corrupted newest version: refused with a warning, the previous one evaluated.
/usr/bin/python3 - "$run/checkpoints/$latest/checkpoint.h5" <<'PY'
import sys
path = sys.argv[1]
data = bytearray(open(path, "rb").read())
data[len(data) // 2] ^= 0xFF
open(path, "wb").write(data)
PY
previous=$(find "$run/checkpoints" -maxdepth 1 -name 'step-*' -printf '%f\n' | sort | tail -n 2 | head -n 1)
"$bin" evaluate "$run" -o "$work/previous.json" >"$work/out" 2>&1 || fail "evaluate beside a corrupted version"
grep -q "checkpoint refused: .*$latest" "$work/out" || fail "the corrupted version was not reported"
grep -q "($previous, step 4, epoch 4)" "$work/out" || fail "not the previous version"
echo "ok: evaluate reproduces training's test metrics, and its errors"
