#!/usr/bin/env bash
# Full-ranking evaluation of every test user at the ML-25M shape (162,541
# users over 59,047 items, d=64, K=10, training items masked, metrics
# accumulated: the evaluation issue's GPU figure is <= 150 ms on an H100),
# timed by `recforge evaluate` on an ALS checkpoint:
#   benchmarks/eval/full_ranking.sh [output.md]
# Environment: DEVICES (run.device values, one row each: "cuda cpu" on a GPU
# machine; default auto), PRESET (ml25m; tiny for a quick check), REPEAT (5
# evaluations per device; the median is reported, so the first one's warm-up
# drops out), RECFORGE_BUILD_DIR (build), RECFORGE_BENCH_DIR
# (/tmp/recforge-bench-eval), RECFORGE_DATA_CACHE (its cache/). The ALS
# model trains 2 iterations once (its quality is beside the point; the
# metrics show it is a real model).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-/dev/stdout}
build=${RECFORGE_BUILD_DIR:-build}
devices=${DEVICES:-auto}
preset=${PRESET:-ml25m}
repeat=${REPEAT:-5}
work=${RECFORGE_BENCH_DIR:-/tmp/recforge-bench-eval}
mkdir -p "$work"
cache=${RECFORGE_DATA_CACHE:-$work/cache}  # shared by the GPU session's stages (the same prepared data)
run="$work/runs/full_ranking_$preset"

cat >"$work/train.yaml" <<YAML
run: {name: full_ranking_$preset, output_dir: $work/runs, log_level: warn}
data: {format: synthetic, synthetic: {preset: $preset}, split: {method: leave_one_out}, cache_dir: $cache}
model: {type: als, factors: 64, reg: 0.01, cg_steps: 3, compute_loss: false}
train: {epochs: 2}
YAML
rm -rf "$run"
echo "training ALS ($preset) for a checkpoint" >&2
"$build/bin/recforge" train "$work/train.yaml" >"$work/train.log" 2>&1 || {
  echo "training failed:" >&2
  tail -n 5 "$work/train.log" >&2
  exit 1
}

gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1 || true)
# Rewritten after every device, so that a run cut short (the GPU session's
# stage timeout) still leaves the rows it measured.
write_table() {
  {
    echo "# Full-ranking evaluation, $preset shape"
    echo
    echo "- Machine: $(nproc) cores ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1))${gpu:+, GPU $gpu}."
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M') UTC; commit ${RECFORGE_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}."
    echo "- Command: \`DEVICES=\"$devices\" PRESET=$preset REPEAT=$repeat benchmarks/eval/full_ranking.sh\`."
    echo "- ALS (d=64, 2 iterations) checkpoint; \`recforge evaluate --set eval.k=[10] --repeat $repeat\`: every"
    echo "  leave-one-out test user scored against every item (GEMM in blocks of eval.batch_users), training items"
    echo "  masked, top-10, all metrics, coverage, novelty and user groups; loading is not timed. On a GPU the first run"
    echo "  also lays the training rows out on the device (the block plan, kept for later evaluations as in training):"
    echo "  the median leaves it out, the first of 'each run' includes it."
    echo
    echo "| device | test users | median ms | users/s | each run (ms) | recall@10 | ndcg@10 |"
    echo "|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
  } >"$out"
}

rows=()
failures=0
for device in $devices; do
  echo "evaluating on $device ($repeat times)" >&2
  if ! "$build/bin/recforge" evaluate "$run" --set run.device="$device" --set "eval.k=[10]" --repeat "$repeat" \
    -o "$work/$device.json" >"$work/$device.log" 2>&1; then
    rows+=("| $device | failed: $(grep -m 1 "^recforge: " "$work/$device.log" || tail -n 1 "$work/$device.log") | | | | | |")
    failures=$((failures + 1))
    [ "$out" = /dev/stdout ] || write_table
    continue
  fi
  rows+=("$(/usr/bin/env python3 - "$work/$device.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
m = r["metrics"]
times = ", ".join(f"{t * 1000:.1f}" for t in r["times"])
print(f"| {r['device']} | {r['heldout']:,} | {r['seconds'] * 1000:.1f} | {r['heldout'] / r['seconds']:,.0f} | {times} "
      f"| {m['recall@10']:.4f} | {m['ndcg@10']:.4f} |")
PY
)")
  [ "$out" = /dev/stdout ] || write_table
done

write_table
exit $((failures > 0))
