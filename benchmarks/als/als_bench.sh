#!/usr/bin/env bash
# ALS side by side with the `implicit` package (CPU, conjugate gradient), same
# split, factors, regularisation, confidence, iterations, CG steps and threads:
#   benchmarks/als/als_bench.sh <dataset: gowalla|ml25m> [iterations=10] [factors=64]
# Gowalla needs RECFORGE_DATA_DIR. ml25m uses the synthetic ML-25M preset with a
# random 80/20 split. Prints per-iteration seconds (median), GFLOP/s estimates,
# the speed ratio and Recall/NDCG@20 of both.
#
# Confidence: implicit uses c = alpha * value; recforge c = 1 + alpha * r with
# r = 1, so recforge runs with alpha - 1 to solve the same equations. Neither
# computes the training loss (implicit's default; recforge compute_loss: false).
set -euo pipefail
cd "$(dirname "$0")/../.."
dataset=${1:?gowalla or ml25m}
iterations=${2:-10}
factors=${3:-64}
alpha=${ALPHA:-40}
reg=${REG:-5}
work=${RECFORGE_BENCH_DIR:-/tmp/recforge-bench-als}
mkdir -p "$work"
# shellcheck source=benchmarks/peers/venv.sh
source benchmarks/peers/venv.sh
venv=$(peer_venv "$work/venv" "implicit h5py threadpoolctl scipy" implicit h5py threadpoolctl scipy numpy)
case "$dataset" in
  gowalla)
    data="data:
  path: \"\${RECFORGE_DATA_DIR}/gowalla/train.txt\"
  test_path: \"\${RECFORGE_DATA_DIR}/gowalla/test.txt\"
  split: {method: given}
  cache_dir: $work/cache" ;;
  ml25m)
    data="data: {format: synthetic, synthetic: {preset: ml25m}, split: {method: random, test_ratio: 0.2}, cache_dir: $work/cache}" ;;
  *) echo "unknown dataset $dataset"; exit 2 ;;
esac
cat >"$work/$dataset.yaml" <<YAML
run: {name: als_bench_$dataset, output_dir: $work/runs, threads: 2, log_level: warn}
$data
model: {type: als, factors: $factors, alpha: $(awk -v a="$alpha" 'BEGIN {print a - 1}'), reg: $reg, cg_steps: 3, compute_loss: false}
train: {epochs: $iterations, eval_every: 1000}
eval: {type: ranking, k: [20], novelty: false}
YAML
cache=$(build/bin/recforge data prepare "$work/$dataset.yaml" | sed -n 's/^cache \([^ ]*\) .*/\1/p')
rm -rf "$work/runs/als_bench_$dataset"  # metrics.jsonl appends (for resumed runs): start clean
OMP_NUM_THREADS=2 build/bin/recforge train "$work/$dataset.yaml" >/dev/null
ours=$(python3 - "$work/runs/als_bench_$dataset" <<'PY'
import json, statistics, sys
run = sys.argv[1]
seconds = [json.loads(l)["values"]["seconds"] for l in open(f"{run}/metrics.jsonl") if '"split":"epoch"' in l]
metrics = json.load(open(f"{run}/eval.json"))
print(json.dumps({"seconds": statistics.median(seconds), "recall": metrics["recall@20"], "ndcg": metrics["ndcg@20"]}))
PY
)
peer=$(OMP_NUM_THREADS=2 "$venv/bin/python" benchmarks/als/als_peer.py "$cache" --factors "$factors" --reg "$reg" --alpha "$alpha" \
       --iterations "$iterations" --threads 2)
"$venv/bin/python" - "$ours" "$peer" "$cache" "$factors" <<'PY'
import json, statistics, sys
import subprocess
ours, peer = json.loads(sys.argv[1]), json.loads(sys.argv[2])
d = int(sys.argv[4])
# FLOPs of one iteration: per side, 4 products A v (the residual and 3 CG steps),
# each 2 D^2 per row (the Gram term) + 4 D per interaction (y_i.v and its axpy),
# plus the Gram matrix of the fixed side (2 N D^2, counted in full).
out = subprocess.run([sys.executable, "-c", f"import h5py;f=h5py.File('{sys.argv[3]}','r');print(len(f['train/user']), max(f['train/user'][:])+1, max(f['train/item'][:])+1)"],
                     capture_output=True, text=True)
nnz, users, items = map(int, out.stdout.split()) if out.returncode == 0 else (0, 0, 0)
flops = 4 * (2 * d * d * (users + items) + 8 * d * nnz) + 2 * d * d * (users + items) if nnz else 0
peer_seconds = statistics.median(peer["seconds_per_iteration"])
print(f"| | seconds per iteration (median) | GFLOP/s (estimate) | Recall@20 | NDCG@20 |")
print(f"|---|---|---|---|---|")
print(f"| implicit {peer_seconds:.3f} | {peer_seconds:.3f} | {flops / peer_seconds / 1e9:.1f} | {peer['recall']:.4f} | {peer['ndcg']:.4f} |".replace(f"implicit {peer_seconds:.3f}", "implicit (CPU, CG)"))
print(f"| recforge als (CPU, CG) | {ours['seconds']:.3f} | {flops / ours['seconds'] / 1e9:.1f} | {ours['recall']:.4f} | {ours['ndcg']:.4f} |")
print(f"\nspeed-up {peer_seconds / ours['seconds']:.2f}x; recall difference {100 * (ours['recall'] - peer['recall']) / peer['recall']:+.2f}%")
PY
