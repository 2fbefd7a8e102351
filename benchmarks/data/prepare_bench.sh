#!/usr/bin/env bash
# Data pipeline benchmark on the ML-25M-shaped synthetic file, side by side with
# the Python peer a user would pick (pandas read_csv + factorize), in one run.
#   benchmarks/data/prepare_bench.sh [repeats=3] [work dir=/tmp/recforge-bench-data]
# Reports medians of: generate (ml25m preset), prepare (parse + map ids + cache
# write, cache off for reads), cache reload, pandas read_csv + factorize; and peak RSS.
set -euo pipefail
cd "$(dirname "$0")/../.."
repeats=${1:-3}
work=${2:-/tmp/recforge-bench-data}
recforge=build/bin/recforge
mkdir -p "$work"
# shellcheck source=benchmarks/peers/venv.sh
source benchmarks/peers/venv.sh
venv=$(peer_venv "$work/venv" "pandas numpy" pandas numpy)

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
# time_cmd <command...>: prints "seconds peak_kb"
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (Debian package time: bash launch/install-deps.sh)" >&2; exit 1; }
time_cmd() { /usr/bin/time -f "%e %M" "$@" 2>&1 >/dev/null | tail -n 1; }

gen=(); for _ in $(seq "$repeats"); do gen+=("$(time_cmd "$recforge" data generate --preset ml25m --out "$work/ml25m" --force)"); done
csv="$work/ml25m/ratings.csv"
cat >"$work/prepare.yaml" <<YAML
run: {log_level: warn}
data:
  path: $csv
  split: {method: none}
  cache_dir: $work/cache
YAML
prep=(); load=()
for _ in $(seq "$repeats"); do
  rm -rf "$work/cache"
  prep+=("$(time_cmd "$recforge" data prepare "$work/prepare.yaml")")
  load+=("$(time_cmd "$recforge" data prepare "$work/prepare.yaml")")
done
cat >"$work/pandas_peer.py" <<'PY'
import sys, pandas as pd
df = pd.read_csv(sys.argv[1], dtype={"userId": "int64", "movieId": "int64", "rating": "float32", "timestamp": "int64"})
users, _ = pd.factorize(df["userId"], sort=True)
items, _ = pd.factorize(df["movieId"], sort=True)
assert len(df) == 25000095, len(df)
PY
peer=(); for _ in $(seq "$repeats"); do peer+=("$(time_cmd "$venv/bin/python" "$work/pandas_peer.py" "$csv")"); done

col() { local i=$1; shift; printf '%s\n' "$@" | awk -v i="$i" '{print $i}' | median; }
g=$(col 1 "${gen[@]}"); p=$(col 1 "${prep[@]}"); l=$(col 1 "${load[@]}"); q=$(col 1 "${peer[@]}")
pm=$(col 2 "${prep[@]}"); qm=$(col 2 "${peer[@]}"); gm=$(col 2 "${gen[@]}"); lm=$(col 2 "${load[@]}")
ratio=$(awk -v a="$q" -v b="$p" 'BEGIN {printf "%.1f", a / b}')
cat <<MD
| step (ML-25M shape: 25,000,095 rows, $(du -m "$csv" | cut -f1) MB csv) | median s | peak RSS MiB | goal |
|---|---|---|---|
| recforge data generate --preset ml25m | $g | $((gm / 1024)) | <= 30 s |
| recforge data prepare (parse, map ids, write cache) | $p | $((pm / 1024)) | <= 8 s, <= 2048 MiB |
| recforge data prepare (cache reload) | $l | $((lm / 1024)) | <= 1 s |
| pandas read_csv + factorize (peer) | $q | $((qm / 1024)) | |
| **prepare speed-up vs pandas** | **${ratio}x** | | |

repeats: $repeats (median); machine: $(nproc) cores, $(lscpu | sed -n 's/Model name: *//p'); $(date -u +%Y-%m-%d); commit $(git rev-parse --short HEAD)
MD
