#!/usr/bin/env bash
# Checkpoints are readable outside recforge: trains the tiny ALS and MF configs
# and checks the newest version of each with h5py against the documented layout.
set -u
recforge=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/recforge-h5py.XXXXXX)
trap 'rm -rf "$work"' EXIT
for config in configs/als_tiny.yaml configs/mf_tiny.yaml; do
  "$recforge" train "$config" --set run.output_dir="$work" --set eval.type=ranking >"$work/out" 2>&1 \
    || { tail -n 20 "$work/out"; exit 1; }
done
for dir in "$work"/*/checkpoints; do /usr/bin/python3 "$here/checkpoint_tool.py" layout "$dir" || exit 1; done
