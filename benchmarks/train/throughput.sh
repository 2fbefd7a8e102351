#!/usr/bin/env bash
# Training throughput of every model on one device at the ML-25M shape (the
# synthetic preset: 25M interactions, 162,541 users, 59,047 items), with the
# settings each model's paper uses, a fixed number of steps each:
#   benchmarks/train/throughput.sh [output.md]
# Environment: DEVICE cuda|cpu|auto (auto), PRESET (ml25m; ml100k for a quick
# check), STEPS mini-batch steps per model (200), MODELS (all five), COMM
# (auto; mpi or nccl run one rank through launch/mpirun.sh: the collective
# path's overhead against auto's single process), RECFORGE_BUILD_DIR (build),
# RECFORGE_BENCH_DIR (/tmp/recforge-bench-train), RECFORGE_DATA_CACHE (its cache/).
# Steady rate: steps between the first and the last log line over their wall
# time (the first window, with its warm-up, is left out). ALS trains full
# batch: seconds per iteration, the median of 3. No checkpoints (their fsync
# is not training). Exit 1 if a model failed (its row says why).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-/dev/stdout}
build=${RECFORGE_BUILD_DIR:-build}
device=${DEVICE:-auto}
preset=${PRESET:-ml25m}
steps=${STEPS:-200}
models=${MODELS:-als ncf two_tower sasrec lightgcn}
comm=${COMM:-auto}
launcher=()
case "$comm" in
  auto | single) ;;
  mpi | nccl) launcher=(launch/mpirun.sh -np 1) ;;
  *) echo "COMM must be auto, single, mpi or nccl" >&2; exit 2 ;;
esac
work=${RECFORGE_BENCH_DIR:-/tmp/recforge-bench-train}
mkdir -p "$work"
cache=${RECFORGE_DATA_CACHE:-$work/cache}  # shared by the GPU session's stages (the same prepared data)

model_section() {
  case "$1" in
    als) echo "{type: als, factors: 64, reg: 0.01, cg_steps: 3, compute_loss: false}" ;;
    ncf) echo "{type: ncf, factors: 64, layers: 3, negatives: 4}" ;;
    two_tower) echo "{type: two_tower, dim: 64, temperature: 0.1, loss: softmax, log_q: true}" ;;
    sasrec) echo "{type: sasrec, dim: 50, blocks: 2, max_len: 200, dropout: 0.2}" ;;
    lightgcn) echo "{type: lightgcn, dim: 64, layers: 3, reg: 1e-4}" ;;
    *) echo "unknown model $1" >&2; exit 2 ;;
  esac
}
batch_of() {
  case "$1" in sasrec) echo 128 ;; lightgcn) echo 8192 ;; *) echo 1024 ;; esac
}

gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1 || true)
# The table is rewritten after every model, so that a run cut short (the GPU
# session's stage timeout) still leaves the rows it measured.
write_table() {
  {
    echo "# Training throughput, $preset shape"
    echo
    echo "- Machine: $(nproc) cores ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1))${gpu:+, GPU $gpu}; run.device: $device; comm.backend: $comm${launcher[*]:+ (1 rank, launch/mpirun.sh)}."
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M') UTC; commit ${RECFORGE_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}."
    echo "- Command: \`DEVICE=$device PRESET=$preset STEPS=$steps COMM=$comm benchmarks/train/throughput.sh\`; one run each."
    echo "- Mini-batch models: $steps steps (batch: sasrec 128 sequences, lightgcn 8192 triples, else 1024 rows);"
    echo "  steady steps/s leaves out the first log window; examples/s is the trainer's own figure over the whole epoch."
    echo
    echo "| model | steady rate | examples/s | last loss | wall (load + train) |"
    echo "|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
    if [ -n "${pending// /}" ]; then
      echo
      echo "Not run yet (the run was cut short):$pending"
    fi
  } >"$out"
}

rows=()
failures=0
pending=" $models "
for model in $models; do
  pending=${pending/ $model / }
  name="throughput_$model"
  if [ "$model" = als ]; then
    train="{epochs: 3, eval_every: 1000}"
  else
    train="{epochs: 1, max_steps: $steps, log_every: $(( steps / 4 > 0 ? steps / 4 : 1 )), batch_size: $(batch_of "$model"), optimizer: {type: adam, lr: 0.001}, eval_every: 1000}"
  fi
  cat >"$work/$name.yaml" <<YAML
run: {name: $name, output_dir: $work/runs, log_level: warn, device: $device}
comm: {backend: $comm}
data: {format: synthetic, synthetic: {preset: $preset}, split: {method: leave_one_out}, cache_dir: $cache}
model: $(model_section "$model")
train: $train
checkpoint: {enabled: false}
YAML
  rm -rf "$work/runs/$name"  # metrics.jsonl appends: start clean
  echo "training $model ($preset, $device, comm $comm)" >&2
  start=$(date +%s.%N)
  if ! "${launcher[@]}" "$build/bin/recforge" train "$work/$name.yaml" >"$work/$name.log" 2>&1; then
    reason=$(grep -m 1 -E "^recforge: |error" "$work/$name.log" || tail -n 1 "$work/$name.log")
    rows+=("| $model | failed: ${reason:0:160} | | | |")
    failures=$((failures + 1))
    [ "$out" = /dev/stdout ] || write_table
    continue
  fi
  wall=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}')
  rows+=("$(/usr/bin/env python3 - "$work/runs/$name/metrics.jsonl" "$model" "$wall" <<'PY'
import json, statistics, sys
path, model, wall = sys.argv[1], sys.argv[2], sys.argv[3]
lines = [json.loads(l) for l in open(path)]
train = [l for l in lines if l["split"] == "train"]
epochs = [l["values"]["seconds"] for l in lines if l["split"] == "epoch"]
if model == "als" or len(train) < 2:
    print(f"| {model} | {statistics.median(epochs):.3f} s per iteration | | | {wall} s |")
else:
    first, last = train[0], train[-1]
    rate = (last["step"] - first["step"]) / (last["wall_time"] - first["wall_time"])
    print(f"| {model} | {rate:.1f} steps/s | {last['values']['examples_per_s']:,.0f} | {last['values']['loss']:.4f} | {wall} s |")
PY
)")
  [ "$out" = /dev/stdout ] || write_table
done

write_table
exit $((failures > 0))
