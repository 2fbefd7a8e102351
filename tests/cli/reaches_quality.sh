#!/usr/bin/env bash
# reaches_quality.sh <recforge> <config> <metric> <minimum> [recforge train args...]
# Trains a shipped config on a real dataset and checks that the final evaluation
# reaches the quality the config promises. Exits 77 (ctest: skipped) without
# RECFORGE_DATA_DIR.
set -uo pipefail
recforge=$1 config=$2 metric=$3 minimum=$4
shift 4
if [ -z "${RECFORGE_DATA_DIR:-}" ] || [ ! -d "$RECFORGE_DATA_DIR" ]; then
  echo "RECFORGE_DATA_DIR is not set: skipped"; exit 77
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if ! "$recforge" train "$config" --set run.output_dir="$out" --set run.name=check "$@" >"$out/log" 2>&1; then
  echo "recforge train $config failed:"; tail -n 30 "$out/log"; exit 1
fi
tail -n 15 "$out/log"
value=$(sed -nE "s/^ *\"$(sed 's/[]@[]/\\&/g' <<<"$metric")\": *([-0-9.eE+]+),?$/\1/p" "$out/check/eval.json")
if [ -z "$value" ]; then
  echo "$metric is not in $out/check/eval.json"; exit 1
fi
if awk -v v="$value" -v m="$minimum" 'BEGIN { exit !(v >= m) }'; then
  echo "$config: $metric = $value >= $minimum"
else
  echo "$config: $metric = $value, below the promised $minimum"; exit 1
fi
