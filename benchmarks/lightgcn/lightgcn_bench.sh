#!/usr/bin/env bash
# LightGCN side by side with a PyTorch CPU peer (benchmarks/lightgcn/lightgcn_peer.py)
# on Gowalla: same graph, d, layers, batch, optimizer and threads, propagation
# every batch (as the official code). Throughput only (BPR triples/s over
# `steps` steps each; quality: configs/lightgcn_gowalla.yaml and its realdata test):
#   benchmarks/lightgcn/lightgcn_bench.sh [steps=40] [batch=4096] [threads=2]
# Needs RECFORGE_DATA_DIR; the peer's virtual environment (torch, h5py, numpy
# from PyPI) is created on first use under $RECFORGE_BENCH_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
steps=${1:-40}
batch=${2:-4096}
threads=${3:-2}
work=${RECFORGE_BENCH_DIR:-/tmp/recforge-bench-ncf}
mkdir -p "$work"
# shellcheck source=benchmarks/peers/venv.sh
source benchmarks/peers/venv.sh
venv=$(peer_venv "$work/venv" "torch h5py" torch h5py numpy)
cat >"$work/lightgcn.yaml" <<YAML
run: {name: lightgcn_bench, output_dir: $work/runs, threads: $threads, log_level: warn}
data: {path: "\${RECFORGE_DATA_DIR}/gowalla/train.txt", test_path: "\${RECFORGE_DATA_DIR}/gowalla/test.txt", split: {method: given}, cache_dir: $work/cache}
model: {type: lightgcn, dim: 64, layers: 3, reg: 1e-4}
train: {epochs: 1, max_steps: $steps, batch_size: $batch, optimizer: {type: adam, lr: 0.005}, eval_every: 1000}
eval: {type: ranking, k: [20]}
checkpoint: {enabled: false}
YAML
cache=$(build/bin/recforge data prepare "$work/lightgcn.yaml" | sed -n 's/^cache \([^ ]*\) .*/\1/p')
rm -rf "$work/runs/lightgcn_bench"
OMP_NUM_THREADS=$threads build/bin/recforge train "$work/lightgcn.yaml" >/dev/null
ours=$(python3 -c "
import json
for l in open('$work/runs/lightgcn_bench/metrics.jsonl'):
    if '\"split\":\"epoch\"' in l: print(json.loads(l)['values']['seconds'] / $steps)
")
peer=$(OMP_NUM_THREADS=$threads "$venv/bin/python" benchmarks/lightgcn/lightgcn_peer.py "$cache" --epochs 1 --max-steps "$steps" \
       --batch "$batch" --threads "$threads")
python3 - "$ours" "$peer" "$batch" "$threads" <<'PY'
import json, statistics, sys
ours, peer, batch = float(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3])
p = statistics.median(peer["seconds_per_step"])
print("| | seconds per step | BPR triples/s | epoch (810,128 triples) |")
print("|---|---|---|---|")
print(f"| PyTorch {sys.argv[4]} threads | {p:.3f} | {batch / p:,.0f} | {810128 / batch * p:.0f} s |")
print(f"| recforge lightgcn | {ours:.3f} | {batch / ours:,.0f} | {810128 / batch * ours:.0f} s |")
print(f"\nspeed-up {p / ours:.2f}x")
PY
