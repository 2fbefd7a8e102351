#!/usr/bin/env bash
# Two-tower with and without item features (MovieLens genres), side by side on
# the same split and seed: ML-100K (u.item) and ML-latest-small (movies.csv),
# ID-only towers and MLP towers [128, 64]; prints a Markdown table of
# Recall@20 / NDCG@20 (full ranking, training items masked).
#   RECFORGE_DATA_DIR=../shared/datasets benchmarks/two_tower/features_bench.sh
# The base config is configs/two_tower_ml-100k.yaml (20 epochs, ~15 s a run on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${RECFORGE_DATA_DIR:?set RECFORGE_DATA_DIR to the datasets folder}"
work=${RECFORGE_BENCH_DIR:-/tmp/recforge-bench-two-tower}
mkdir -p "$work"
echo "| dataset | towers | item features | Recall@20 | NDCG@20 | train s |"
echo "|---|---|---|---|---|---|"
for dataset in ml-100k ml-latest-small; do
  if [ "$dataset" = ml-100k ]; then
    files=(--set 'data.path=${RECFORGE_DATA_DIR}/ml-100k/u.data' --set 'data.item_features.path=${RECFORGE_DATA_DIR}/ml-100k/u.item')
  else
    files=(--set 'data.path=${RECFORGE_DATA_DIR}/ml-latest-small/ratings.csv'
           --set 'data.item_features.path=${RECFORGE_DATA_DIR}/ml-latest-small/movies.csv')
  fi
  for tower in "[]" "[128, 64]"; do
    for features in on off; do
      run="$work/runs/two_tower_ml-100k"
      rm -rf "$run"
      build/bin/recforge train configs/two_tower_ml-100k.yaml "${files[@]}" --set "model.tower=$tower" \
        --set "model.item_features=$features" --set "run.output_dir=$work/runs" --set data.cache_dir="$work/cache" \
        --set run.log_level=warn >/dev/null
      python3 - "$run" "$dataset" "$tower" "$features" <<'PY'
import json, sys
run, dataset, tower, features = sys.argv[1:]
m = json.load(open(f"{run}/eval.json"))
seconds = sum(json.loads(l)["values"]["seconds"] for l in open(f"{run}/metrics.jsonl") if '"split":"epoch"' in l)
print(f"| {dataset} | {'ID only' if tower == '[]' else 'MLP ' + tower} | {features} | {m['recall@20']:.4f} | {m['ndcg@20']:.4f} | {seconds:.1f} |")
PY
    done
  done
done
