#!/usr/bin/env bash
# Runs the Google Benchmark micro benchmarks (build/bench/, or
# $RECFORGE_BUILD_DIR/bench/) with repetitions and writes their medians as a
# Markdown table with machine, date, commit and command:
#   benchmarks/run_micro.sh [output, default benchmarks/results/micro_<cpu|gpu>.md]
# MICRO_FLAGS adds Google Benchmark flags (later ones win, e.g. fewer repetitions).
# CUDA cases run when a GPU is visible (the file is then micro_gpu.md and names
# the GPU); without one they are listed as skipped. comm_bench (all-reduce)
# needs mpirun: benchmarks/comm/run_comm_bench.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${RECFORGE_BUILD_DIR:-build}
benches=(kernels_bench als_bench ranking_bench random_bench score_bench checkpoint_bench)
device=cpu
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1 || true)
[ -n "$gpu" ] && device=gpu
out=${1:-benchmarks/results/micro_$device.md}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python=/usr/bin/python3  # the standard library only; the GPU image's python3 may live elsewhere
[ -x "$python" ] || python=python3
# The table is rewritten after every bench, so that a run cut short (the GPU
# session's stage timeout) still leaves what was measured.
write_table() {
"$python" - "$tmp" "$out" "${gpu:-}" "${benches[@]}" <<'PY'
import datetime, json, os, platform, subprocess, sys
tmp, out, gpu, benches = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
def git_commit():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:  # no git (the GPU machine's tree travels without .git anyway)
        return "unknown"
commit = os.environ.get("RECFORGE_COMMIT") or git_commit()
flags = os.environ.get("MICRO_FLAGS", "")
prefix = f'MICRO_FLAGS="{flags}" ' if flags else ""
lines = ["# Micro benchmarks", "",
         f"- Machine: {os.cpu_count()} cores ({cpu}){', GPU ' + gpu if gpu else ', no GPU'}.",
         f"- Date: {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC; commit {commit}.",
         f"- Command: `{prefix}benchmarks/run_micro.sh` (repetitions as the flags say, 5 by default; medians; real time).", "",
         "| benchmark | device | time per call | GB/s | GFLOP/s | other |", "|---|---|---|---|---|---|"]
skipped, failed, pending = [], [], []
for b in benches:
    path = os.path.join(tmp, b + ".json")
    if not os.path.exists(path):
        pending.append(b)
        continue
    try:
        results = json.load(open(path))["benchmarks"]
    except (ValueError, KeyError):  # a bench cut short (crash, timeout) leaves no JSON
        failed.append(b)
        continue
    for r in results:
        if r.get("error_occurred"):
            if r["name"] not in skipped:
                skipped.append(r["name"].split("/real_time")[0])
            continue
        if r.get("aggregate_name") != "median":
            continue
        name = r["run_name"].replace("/real_time", "")
        unit = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[r.get("time_unit", "ns")]
        seconds = r["real_time"] * unit
        shown = f"{seconds * 1e3:.3f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.1f} us"
        gbs = r.get("GB/s") or (r["bytes_per_second"] / 1e9 if "bytes_per_second" in r else None)
        gflops = r.get("GFLOP/s")
        standard = {"name", "family_index", "per_family_instance_index", "run_name", "run_type", "repetitions",
                    "threads", "aggregate_name", "aggregate_unit", "iterations", "real_time", "cpu_time", "time_unit",
                    "label", "repetition_index", "bytes_per_second", "GB/s", "GFLOP/s"}
        other = ", ".join(f"{k} {v:.3g}" for k, v in r.items() if k not in standard and isinstance(v, (int, float)))
        lines.append(f"| {name} | {r.get('label', '')} | {shown} | {'' if gbs is None else f'{gbs:.1f}'} | "
                     f"{'' if gflops is None else f'{gflops:.1f}'} | {other} |")
if skipped:
    lines += ["", "Skipped (no CUDA device): " + ", ".join(sorted(set(skipped))) + "."]
if failed:
    lines += ["", "No results (the bench failed or was cut short): " + ", ".join(failed) + "."]
if pending:
    lines += ["", "Not run (yet, or the run was cut short): " + ", ".join(pending) + "."]
open(out, "w").write("\n".join(lines) + "\n")
print(f"wrote {out}")
PY
}
for b in "${benches[@]}"; do
  echo "running $b" >&2
  # shellcheck disable=SC2086  # MICRO_FLAGS: extra Google Benchmark flags, word-split on purpose
  "$build/bench/$b" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true ${MICRO_FLAGS:-} \
    --benchmark_out="$tmp/$b.json" --benchmark_out_format=json >/dev/null 2>&1 || echo "$b failed" >&2
  write_table >/dev/null
done
echo "wrote $out"
