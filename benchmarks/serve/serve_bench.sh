#!/usr/bin/env bash
# `recforge serve` under loopback load from wrk, at the ML-25M shape:
#   benchmarks/serve/serve_bench.sh [seconds per run = 15] [repeats = 3]
# Trains ALS (k = 64, 3 iterations) on the synthetic ML-25M preset (162,541
# users, 59,047 items), then for the exact top-10 and the Faiss HNSW index (when
# recforge was built with it) runs wrk `repeats` times against
# GET /v1/recommend?user=<random known user>&k=10 (training items excluded)
# and prints the median requests/s and latency percentiles, plus the ANN's
# recall@10 against the exact answer over 1,000 users. wrk and the server share
# the machine's cores, as on a 2-core developer box.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-15}
repeats=${2:-3}
recforge=${RECFORGE:-build/bin/recforge}
work=${RECFORGE_BENCH_DIR:-/tmp/recforge-bench-serve}
server_threads=${SERVER_THREADS:-16}
connections=${CONNECTIONS:-8}
command -v wrk >/dev/null || { echo "serve_bench: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
mkdir -p "$work"

ckpt="$work/runs/serve_bench/checkpoints"
if [ ! -f "$ckpt/LATEST" ]; then
  cat >"$work/train.yaml" <<YAML
run: {name: serve_bench, output_dir: $work/runs, threads: 2, log_level: warn}
data: {format: synthetic, synthetic: {preset: ml25m}, split: {method: leave_one_out}, cache_dir: $work/cache}
model: {type: als, factors: 64, alpha: 10, reg: 5, cg_steps: 3, compute_loss: false}
train: {epochs: 3, eval_every: 1000}
eval: {type: ranking, k: [10]}
YAML
  echo "training ALS on the ML-25M shape ..." >&2
  "$recforge" train "$work/train.yaml" >"$work/train.log" 2>&1 || { tail -20 "$work/train.log"; exit 1; }
fi

# 2,000 known users, drawn once from the checkpoint's original ids.
/usr/bin/python3 - "$ckpt" "$work/users.lua" <<'PY'
import os, random, sys, h5py
ckpt, out = sys.argv[1], sys.argv[2]
latest = open(os.path.join(ckpt, "LATEST")).read().strip()
with h5py.File(os.path.join(ckpt, latest, "checkpoint.h5"), "r") as f:
    users = [int(u) for u in f["ids/users"][...]]
random.seed(7)
pick = random.sample(users, 2000)
with open(out, "w") as f:
    f.write("local users = {" + ",".join(map(str, pick)) + "}\n")
    f.write('request = function()\n  return wrk.format("GET", "/v1/recommend?user=" .. users[math.random(#users)] .. "&k=10")\nend\n')
PY

server=""
stop() { if [ -n "$server" ]; then kill -TERM "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; server=""; fi; }
trap stop EXIT

start() {  # start <extra serve options...>: sets $server and $base
  "$recforge" serve --model-dir "$ckpt" --port 0 --threads "$server_threads" "$@" >"$work/serve.log" 2>&1 &
  server=$!
  for _ in $(seq 600); do
    base=$(grep -o "http://[0-9.]*:[0-9]*" "$work/serve.log" | head -1 || true)
    [ -n "$base" ] && return 0
    kill -0 "$server" 2>/dev/null || { cat "$work/serve.log" >&2; return 1; }
    sleep 0.1
  done
  echo "serve_bench: the server did not start" >&2; return 1
}

# wrk's summary -> "rps p50_ms p90_ms p99_ms errors"
run_wrk() {
  wrk -t1 -c"$connections" -d"${seconds}s" --latency -s "$work/users.lua" "$base" | awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /^ +50%/ {p50 = ms($2)} /^ +90%/ {p90 = ms($2)} /^ +99%/ {p99 = ms($2)}
    /Requests\/sec/ {rps = $2} /Non-2xx/ {err += $NF} /Socket errors/ {err += 1}
    END {printf "%.0f %.2f %.2f %.2f %d\n", rps, p50, p90, p99, err}'
}

median_of() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

measure() {  # measure <label>: repeats wrk runs, prints one table row
  local label=$1 rows=()
  for _ in $(seq "$repeats"); do rows+=("$(run_wrk)"); done
  local rps p50 p90 p99 errors
  rps=$(printf '%s\n' "${rows[@]}" | awk '{print $1}' | median_of)
  p50=$(printf '%s\n' "${rows[@]}" | awk '{print $2}' | median_of)
  p90=$(printf '%s\n' "${rows[@]}" | awk '{print $3}' | median_of)
  p99=$(printf '%s\n' "${rows[@]}" | awk '{print $4}' | median_of)
  errors=$(printf '%s\n' "${rows[@]}" | awk '{s += $5} END {print s}')
  echo "| $label | $rps | $p50 | $p90 | $p99 | $errors |"
  echo "  runs: $(printf '[%s] ' "${rows[@]}")" >&2
}

echo "| search | requests/s (median of $repeats x ${seconds}s) | p50 ms | p90 ms | p99 ms | failed requests |"
echo "|---|---|---|---|---|---|"
start
measure "exact top-10 (59,047 items)"
stop

if start --ann; then
  measure "Faiss HNSW top-10 (M 32, efSearch 128)"
  /usr/bin/python3 - "$base" "$work/users.lua" <<'PY'
import json, re, sys, urllib.request
base, lua = sys.argv[1], sys.argv[2]
users = re.search(r"\{([^}]*)\}", open(lua).read()).group(1).split(",")[:1000]
def top(u, approximate):
    with urllib.request.urlopen(f"{base}/v1/recommend?user={u}&k=10&approximate={approximate}") as r:
        return [i["item"] for i in json.load(r)["items"]]
hits = total = 0
for u in users:
    exact = top(u, "false")
    hits += len(set(exact) & set(top(u, "true")))
    total += len(exact)
print(f"\nANN recall@10 vs exact over {len(users)} users: {hits / total:.4f}")
PY
  stop
else
  echo "(no ANN row: recforge was built without Faiss)"
fi
