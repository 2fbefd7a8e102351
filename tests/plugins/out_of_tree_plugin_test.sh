#!/usr/bin/env bash
# Installs this build to a temporary prefix, builds plugins/_template against it
# with find_package(recforge), and checks that the installed `recforge` loads the
# plugin: its model's keys and defaults appear in a resolved config, it trains
# on 2 ranks (loss falling, ranking metrics above popularity's floor), and
# `recforge evaluate` of its checkpoint, with the library moved and named by
# --plugin, reproduces the training run's final metrics.
set -euo pipefail
build_dir=$1; source_dir=$2
work=$(mktemp -d /tmp/recforge-oot.XXXXXX)
trap 'rm -rf "$work"' EXIT

cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S "$source_dir/plugins/_template" -B "$work/build" "${generator[@]}" \
  -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release >"$work/configure.log" 2>&1 \
  || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/build" >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
plugin="$work/build/libtemplate.so"
[ -f "$plugin" ] || { echo "plugin library not built: $plugin"; ls "$work/build"; exit 1; }

cat >"$work/job.yaml" <<YAML
plugins: [build/libtemplate.so]
model:
  type: template
YAML
out=$("$work/prefix/bin/recforge" config show "$work/job.yaml")
echo "$out"
grep -q "type: template" <<<"$out"
grep -q "dim: 16" <<<"$out"
# A key the template does not declare is rejected by the plugin's own schema.
if "$work/prefix/bin/recforge" config show "$work/job.yaml" --set model.dims=3 2>"$work/err"; then
  echo "unknown plugin key was accepted"; exit 1
fi
grep -q "unknown key 'model.dims'; did you mean 'dim'?" "$work/err" || { cat "$work/err"; exit 1; }

# Training: 2 ranks (gradients all-reduced), evaluation and checkpoints.
cat >"$work/train.yaml" <<YAML
plugins: [build/libtemplate.so]
run: {name: template, output_dir: $work/runs, log_level: info}
data: {format: synthetic, synthetic: {preset: tiny}, split: {method: leave_one_out}, cache: false}
model: {type: template, dim: 16}
train: {epochs: 8, batch_size: 128, optimizer: {type: adam, lr: 0.02}}
eval: {type: ranking, k: [10]}
YAML
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMP_NUM_THREADS=1
launch=("$work/prefix/bin/recforge")
command -v mpirun >/dev/null && launch=(mpirun -np 2 --oversubscribe --bind-to none "$work/prefix/bin/recforge")
"${launch[@]}" train "$work/train.yaml" >"$work/train.log" 2>&1 || { cat "$work/train.log"; exit 1; }
/usr/bin/python3 - "$work/runs/template/metrics.jsonl" <<'PY' || { cat "$work/train.log"; exit 1; }
import json, sys
records = [json.loads(line) for line in open(sys.argv[1])]
losses = [r["values"]["loss"] for r in records if r.get("split") == "epoch"]
recall = [r["values"]["recall@10"] for r in records if "recall@10" in r.get("values", {})]
assert len(losses) == 8 and losses[-1] < 0.8 * losses[0], f"the loss did not fall: {losses}"
assert recall and recall[-1] > 0.05, f"recall@10 {recall}"
print(f"trained: loss {losses[0]:.4g} -> {losses[-1]:.4g}, recall@10 {recall[-1]:.4f}")
PY
# The checkpoint, evaluated as on another machine: the library is no longer
# where the run's config says (an absolute path from training), and --plugin
# names its copy, which stands in for the library of the same file name.
mkdir "$work/elsewhere"
mv "$plugin" "$work/elsewhere/"
if "$work/prefix/bin/recforge" evaluate "$work/runs/template" >"$work/eval.log" 2>&1; then
  echo "evaluate ran without the run's plugin library"; exit 1
fi
grep -q "the run was trained with the plugin library '$plugin', which is not on this machine; pass --plugin" \
  "$work/eval.log" || { cat "$work/eval.log"; exit 1; }
"$work/prefix/bin/recforge" --plugin "$work/elsewhere/libtemplate.so" evaluate "$work/runs/template" \
  -o "$work/eval.json" >"$work/eval.log" 2>&1 || { cat "$work/eval.log"; exit 1; }
/usr/bin/python3 - "$work/runs/template/metrics.jsonl" "$work/eval.json" <<'PY'
import json, sys
last = [json.loads(line) for line in open(sys.argv[1]) if "recall@10" in line][-1]["values"]
again = json.load(open(sys.argv[2]))["metrics"]
assert abs(again["recall@10"] - last["recall@10"]) < 1e-9 and abs(again["ndcg@10"] - last["ndcg@10"]) < 1e-9, \
    f"evaluate gave {again['recall@10']}, {again['ndcg@10']}; training ended at {last['recall@10']}, {last['ndcg@10']}"
print("evaluate reproduced the final metrics")
PY
echo "out-of-tree plugin built, loaded, validated, trained and evaluated"
