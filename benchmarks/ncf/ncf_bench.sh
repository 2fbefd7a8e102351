#!/usr/bin/env bash
# NeuMF side by side with a PyTorch CPU peer (benchmarks/ncf/ncf_peer.py): same
# split (recforge's leave-one-out, read from its dataset cache), architecture,
# batch, negatives, optimizer, epochs and threads:
#   benchmarks/ncf/ncf_bench.sh <dataset: ml-100k|ml-latest-small|gowalla> [epochs=20] [threads=2]
# Needs RECFORGE_DATA_DIR. The peer's virtual environment (torch, h5py, numpy
# from PyPI) is created on first use under $RECFORGE_BENCH_DIR. recforge runs
# as one process with `threads` OpenMP/BLAS threads (RANKS=2 runs 2 MPI ranks
# of one thread each instead). Prints training examples/s (median epoch), the
# speed ratio, and HR@10/NDCG@10 of both (the same 99 sampled negatives per
# held-out item: the peer ranks the candidates recforge draws).
# OPTIMIZER=lazy_adam (the default) updates only a batch's embedding rows on
# both sides (recforge's default, PyTorch SparseAdam); OPTIMIZER=adam updates
# every row every step on both (PyTorch's dense Adam, recforge
# embedding_updates: dense).
set -euo pipefail
cd "$(dirname "$0")/../.."
dataset=${1:?ml-100k, ml-latest-small or gowalla}
epochs=${2:-20}
threads=${3:-2}
ranks=${RANKS:-1}
# run.threads outranks OMP_NUM_THREADS: with several ranks each gets one thread.
rank_threads=$threads
[ "$ranks" -gt 1 ] && rank_threads=1
seed=${SEED:-42}  # run.seed of recforge, the peer's seed (and both sides' evaluation negatives)
optimizer=${OPTIMIZER:-lazy_adam}
# shellcheck source=benchmarks/peers/embedding_updates.sh
source benchmarks/peers/embedding_updates.sh
updates=$(embedding_updates "$optimizer")
work=${RECFORGE_BENCH_DIR:-/tmp/recforge-bench-ncf}
mkdir -p "$work"
# shellcheck source=benchmarks/peers/venv.sh
source benchmarks/peers/venv.sh
venv=$(peer_venv "$work/venv" "torch h5py" torch h5py numpy)
case "$dataset" in
  ml-100k) data="{path: \"\${RECFORGE_DATA_DIR}/ml-100k/u.data\", split: {method: leave_one_out}, cache_dir: $work/cache}" ;;
  ml-latest-small) data="{path: \"\${RECFORGE_DATA_DIR}/ml-latest-small/ratings.csv\", split: {method: leave_one_out}, cache_dir: $work/cache}" ;;
  gowalla) data="{path: \"\${RECFORGE_DATA_DIR}/gowalla/train.txt\", test_path: \"\${RECFORGE_DATA_DIR}/gowalla/test.txt\", split: {method: given}, cache_dir: $work/cache}" ;;
  *) echo "unknown dataset $dataset"; exit 2 ;;
esac
cat >"$work/$dataset.yaml" <<YAML
run: {name: ncf_bench_$dataset, seed: $seed, output_dir: $work/runs, threads: $rank_threads, log_level: warn}
data: $data
model: {type: ncf, variant: neumf, factors: 8, layers: 3, negatives: 4}
train: {epochs: $epochs, batch_size: 256, optimizer: {type: adam, lr: 0.001, embedding_updates: $updates}, eval_every: 1000}
eval: {type: ranking, protocol: sampled, sampled_negatives: 99, k: [10]}
checkpoint: {enabled: false}
YAML
cache=$(build/bin/recforge data prepare "$work/$dataset.yaml" | sed -n 's/^cache \([^ ]*\) .*/\1/p')
rm -rf "$work/runs/ncf_bench_$dataset"
if [ "$ranks" -gt 1 ]; then
  OMP_NUM_THREADS=1 bash launch/mpirun.sh -np "$ranks" build/bin/recforge train "$work/$dataset.yaml" >/dev/null
else
  OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads build/bin/recforge train "$work/$dataset.yaml" >/dev/null
fi
ours=$(python3 - "$work/runs/ncf_bench_$dataset" <<'PY'
import json, statistics, sys
run = sys.argv[1]
seconds = [json.loads(l)["values"]["seconds"] for l in open(f"{run}/metrics.jsonl") if '"split":"epoch"' in l]
metrics = json.load(open(f"{run}/eval.json"))
print(json.dumps({"seconds": statistics.median(seconds), "hr": metrics["hit_rate@10"], "ndcg": metrics["ndcg@10"]}))
PY
)
peer_flags=()
[ "$dataset" = gowalla ] && peer_flags+=(--no-full-ranking)  # 1.2e9 pairs: hours in PyTorch
peer=$(OMP_NUM_THREADS=$threads "$venv/bin/python" benchmarks/ncf/ncf_peer.py "$cache" --epochs "$epochs" --threads "$threads" --seed "$seed" \
       --optimizer "$optimizer" "${peer_flags[@]}")
python3 - "$ours" "$peer" "$ranks" "$threads" "$updates" <<'PY'
import json, statistics, sys
ours, peer = json.loads(sys.argv[1]), json.loads(sys.argv[2])
examples = peer["examples"]
p = statistics.median(peer["seconds_per_epoch"])
print("| | examples/s (median epoch) | HR@10 | NDCG@10 |")
print("|---|---|---|---|")
print(f"| PyTorch {sys.argv[4]} threads, {peer['optimizer']} | {examples / p:,.0f} | {peer['hr@10']:.4f} | {peer['ndcg@10']:.4f} |")
who = f"{sys.argv[3]} ranks x 1 thread" if int(sys.argv[3]) > 1 else f"{sys.argv[4]} threads"
print(f"| recforge ncf, {who}, embedding_updates {sys.argv[5]} | {examples / ours['seconds']:,.0f} | {ours['hr']:.4f} | {ours['ndcg']:.4f} |")
full = peer["recall@10_full"]
print(f"\nspeed-up {p / ours['seconds']:.2f}x; HR@10 difference {ours['hr'] - peer['hr@10']:+.4f}"
      + (f"; peer full-ranking Recall@10 {full:.4f}" if full is not None else ""))
PY
