#!/usr/bin/env bash
# NeuMF with and without GMF/MLP pre-training (He et al. 2017, section 3.4.1)
# on one dataset's leave-one-out split, HR@10/NDCG@10 among 99 sampled negatives:
#   1. GMF and MLP runs (Adam, `epochs` each)
#   2. NeuMF from their checkpoints (alpha 0.5), fine-tuned with plain SGD as the
#      paper does (Adam's moments are not carried over), `epochs`
#   3. NeuMF from scratch with Adam, `epochs`
#   RECFORGE_DATA_DIR=../shared/datasets benchmarks/ncf/pretrain_bench.sh ml-100k [epochs=20] [sgd lr=0.01]
set -euo pipefail
cd "$(dirname "$0")/../.."
dataset=${1:?ml-100k or ml-latest-small}
epochs=${2:-20}
sgd_lr=${3:-0.01}
config=configs/ncf_$dataset.yaml
work=${RECFORGE_BENCH_DIR:-/tmp/recforge-bench-ncf-pretrain}
rm -rf "$work/runs"
train() {
  local name=$1; shift
  build/bin/recforge train "$config" --set run.name="$name" --set run.output_dir="$work/runs" --set run.log_level=warn \
    --set train.epochs="$epochs" --set train.eval_every=1000 "$@" >/dev/null
  python3 -c "import json,sys; m=json.load(open(sys.argv[1])); print(f\"| {sys.argv[2]} | {m['hit_rate@10']:.4f} | {m['ndcg@10']:.4f} |\")" \
    "$work/runs/$name/eval.json" "$name"
}
echo "| run ($dataset, $epochs epochs each) | HR@10 | NDCG@10 |"
echo "|---|---|---|"
train gmf --set model.variant=gmf
train mlp --set model.variant=mlp
train neumf_pretrained --set model.pretrained_gmf="$work/runs/gmf/checkpoints" \
  --set model.pretrained_mlp="$work/runs/mlp/checkpoints" --set train.optimizer.type=sgd --set train.optimizer.lr="$sgd_lr"
train neumf_scratch
