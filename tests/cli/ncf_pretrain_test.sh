#!/usr/bin/env bash
# NeuMF from pre-trained GMF and MLP runs, end to end (configs/ncf_tiny.yaml):
# trains a GMF and an MLP run, then NeuMF runs that start from their newest
# checkpoints with learning rate 0 (so the evaluation sees the initial
# parameters): with pretrained_alpha 1 the output layer is GMF's alone and the
# metrics must be the GMF run's, with 0 the MLP run's. Then the errors: a
# checkpoint of the wrong variant, of other data, and one key without the other.
#   ncf_pretrain_test.sh <recforge binary>
set -uo pipefail
bin=${1:?recforge binary}
cd "$(dirname "$0")/../.." || exit 1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
config=configs/ncf_tiny.yaml
run() { "$bin" train "$config" --set run.output_dir="$work" --set run.log_level=error "$@" >"$work/out.txt" 2>&1; }
metric() { python3 -c "import json,sys; m=json.load(open(sys.argv[1])); print(m['hit_rate@10'], m['ndcg@10'])" "$1"; }
fail() { echo "FAIL: $*"; cat "$work/out.txt"; exit 1; }

run --set run.name=gmf --set model.variant=gmf || fail "GMF run"
run --set run.name=mlp --set model.variant=mlp --set train.epochs=2 || fail "MLP run"
gmf=$(metric "$work/gmf/eval.json"); mlp=$(metric "$work/mlp/eval.json")
[ "$gmf" != "$mlp" ] || fail "GMF and MLP runs have the same metrics ($gmf): the test could not tell them apart"

pretrained=(--set model.pretrained_gmf="$work/gmf/checkpoints" --set model.pretrained_mlp="$work/mlp/checkpoints"
            --set train.optimizer.lr=0 --set train.epochs=1)
for alpha in 1 0; do
  run --set run.name=neumf_$alpha "${pretrained[@]}" --set model.pretrained_alpha=$alpha || fail "NeuMF alpha $alpha"
  expected=$([ "$alpha" = 1 ] && echo "$gmf" || echo "$mlp")
  got=$(metric "$work/neumf_$alpha/eval.json")
  python3 - "$expected" "$got" "$alpha" <<'PY' || exit 1
import sys
expected, got = [list(map(float, s.split())) for s in sys.argv[1:3]]
# The same scores up to float summation order in the output layer's product.
if any(abs(a - b) > 2e-3 for a, b in zip(expected, got)):
    sys.exit(f"FAIL: NeuMF with alpha {sys.argv[3]} has HR/NDCG {got}, its pre-trained part {expected}")
print(f"alpha {sys.argv[3]}: NeuMF {got} == pre-trained part {expected}")
PY
done

run --set run.name=bad "${pretrained[@]}" --set model.pretrained_gmf="$work/mlp/checkpoints" && fail "wrong variant accepted"
grep -q "is an NCF 'mlp' run, expected 'gmf'" "$work/out.txt" || fail "wrong-variant message"
run --set run.name=bad2 "${pretrained[@]}" --set data.synthetic.seed=7 && fail "other data accepted"
grep -q "model.pretrained_gmf: .* was trained on different data" "$work/out.txt" || fail "other-data message"
run --set run.name=bad3 --set model.pretrained_gmf="$work/gmf/checkpoints" && fail "one key alone accepted"
grep -q "needs both pretrained_gmf and pretrained_mlp" "$work/out.txt" || fail "one-key message"
echo "ok"
