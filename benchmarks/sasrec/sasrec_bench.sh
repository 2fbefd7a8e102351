#!/usr/bin/env bash
# SASRec side by side with a PyTorch CPU peer (benchmarks/sasrec/sasrec_peer.py):
# same leave-one-out split (read from recforge's dataset cache), architecture
# (d 50, 2 blocks, 1 head, max_len 200, dropout 0.2, as configs/sasrec_ml-100k.yaml),
# batch 128 sequences, one negative per position, Adam (lr 0.001, betas 0.9/0.98),
# epochs and threads; both rank each held-out item among the same 100 sampled
# negatives (the peer reproduces recforge's draws for run.seed 42):
#   benchmarks/sasrec/sasrec_bench.sh <dataset: ml-100k|ml-latest-small> [epochs=200] [threads=2]
#   benchmarks/sasrec/sasrec_bench.sh ml-100k 5          # throughput only (5 epochs, median; barely trained)
#   STEPS=4 benchmarks/sasrec/sasrec_bench.sh ml-100k    # smoke test: 4 steps of one epoch each
#   SEED=1 benchmarks/sasrec/sasrec_bench.sh ml-latest-small  # another seed (training and evaluation negatives, both sides)
# (an ML-100K epoch is only 8 steps of 128 users, so STEPS adds warm-up noise;
# prefer a few whole epochs for throughput.)
# Needs RECFORGE_DATA_DIR. The peer's virtual environment (torch, h5py, numpy
# from PyPI) is created on first use under $RECFORGE_BENCH_DIR. recforge runs
# as one process with `threads` OpenMP/BLAS threads (RANKS=2 runs 2 MPI ranks
# of one thread each instead). Both sides update the item embeddings alike:
# OPTIMIZER=adam (the default, as the paper's code) moves every row every step
# (PyTorch's dense Adam, recforge's embedding_updates: dense); OPTIMIZER=lazy_adam
# only a batch's rows (PyTorch SparseAdam, recforge's lazy rows). Prints
# sequences/s (median epoch), the speed ratio, and HR@10/NDCG@10 of both.
set -euo pipefail
cd "$(dirname "$0")/../.."
dataset=${1:?ml-100k or ml-latest-small}
epochs=${2:-200}
threads=${3:-2}
ranks=${RANKS:-1}
# run.threads outranks OMP_NUM_THREADS: with several ranks each gets one thread.
rank_threads=$threads
[ "$ranks" -gt 1 ] && rank_threads=1
steps=${STEPS:-}
seed=${SEED:-42}  # run.seed of recforge, the peer's seed (and both sides' evaluation negatives)
optimizer=${OPTIMIZER:-adam}
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
  *) echo "unknown dataset $dataset (SASRec needs timestamps: ml-100k or ml-latest-small)"; exit 2 ;;
esac
# Throughput only: one epoch cut at `steps` steps on both sides (recforge's
# max_steps counts global steps, the peer's steps per epoch: equal for 1 epoch).
limit=""
peer_limit=()
if [ -n "$steps" ]; then
  epochs=1
  limit="max_steps: $steps, "
  peer_limit=(--max-steps "$steps")
fi
cat >"$work/sasrec_$dataset.yaml" <<YAML
run: {name: sasrec_bench_$dataset, seed: $seed, output_dir: $work/runs, threads: $rank_threads, log_level: warn}
data: $data
model: {type: sasrec, dim: 50, blocks: 2, heads: 1, max_len: 200, dropout: 0.2}
train: {epochs: $epochs, ${limit}batch_size: 128, optimizer: {type: adam, lr: 0.001, beta2: 0.98, embedding_updates: $updates}, eval_every: 1000}
eval: {type: ranking, protocol: sampled, sampled_negatives: 100, k: [10]}
checkpoint: {enabled: false}
YAML
cache=$(build/bin/recforge data prepare "$work/sasrec_$dataset.yaml" | sed -n 's/^cache \([^ ]*\) .*/\1/p')
rm -rf "$work/runs/sasrec_bench_$dataset"
if [ "$ranks" -gt 1 ]; then
  OMP_NUM_THREADS=1 bash launch/mpirun.sh -np "$ranks" build/bin/recforge train "$work/sasrec_$dataset.yaml" >/dev/null
else
  OMP_NUM_THREADS=$threads build/bin/recforge train "$work/sasrec_$dataset.yaml" >/dev/null
fi
# Epoch seconds (evaluation excluded) and the final test metrics of the run.
ours=$(python3 - "$work/runs/sasrec_bench_$dataset" <<'PY'
import json, statistics, sys
run = sys.argv[1]
epochs = [json.loads(l) for l in open(f"{run}/metrics.jsonl") if '"split":"epoch"' in l]
test = [json.loads(l)["values"] for l in open(f"{run}/metrics.jsonl") if '"split":"test"' in l][-1]
print(json.dumps({"seconds": statistics.median(e["values"]["seconds"] for e in epochs), "steps": epochs[0]["step"],
                  "hr": test["hit_rate@10"], "ndcg": test["ndcg@10"]}))
PY
)
peer=$(OMP_NUM_THREADS=$threads "$venv/bin/python" benchmarks/sasrec/sasrec_peer.py "$cache" --epochs "$epochs" \
       --threads "$threads" --seed "$seed" "${peer_limit[@]}" --optimizer "$optimizer")
python3 - "$ours" "$peer" "$ranks" "$threads" "$steps" "$updates" <<'PY'
import json, statistics, sys
ours, peer = json.loads(sys.argv[1]), json.loads(sys.argv[2])
steps = sys.argv[5]
# Both sides train the same sequences per epoch (every user, or `steps` batches).
if steps and ours["steps"] != peer["steps_per_epoch"]:
    sys.exit(f"recforge ran {ours['steps']} steps, the peer {peer['steps_per_epoch']}")
sequences = peer["sequences_per_epoch"]
p = statistics.median(peer["seconds_per_epoch"])
print("| | sequences/s (median epoch) | HR@10 (100 sampled negatives) | NDCG@10 |")
print("|---|---|---|---|")
print(f"| PyTorch {peer['torch']}, {sys.argv[4]} threads, {peer['optimizer']} | {sequences / p:,.1f} "
      f"| {peer['hr@10']:.4f} | {peer['ndcg@10']:.4f} |")
who = f"{sys.argv[3]} ranks x 1 thread" if int(sys.argv[3]) > 1 else f"{sys.argv[4]} threads"
print(f"| recforge sasrec, {who}, embedding_updates {sys.argv[6]} | {sequences / ours['seconds']:,.1f} "
      f"| {ours['hr']:.4f} | {ours['ndcg']:.4f} |")
print(f"\nspeed-up {p / ours['seconds']:.2f}x; HR@10 difference {ours['hr'] - peer['hr@10']:+.4f}, "
      f"NDCG@10 {ours['ndcg'] - peer['ndcg@10']:+.4f}"
      + (f" (throughput only: {steps} steps, the metrics are of barely trained models)" if steps else ""))
PY
