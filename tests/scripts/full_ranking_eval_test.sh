#!/usr/bin/env bash
# benchmarks/eval/full_ranking.sh, which the GPU session runs at the ML-25M
# shape, on the tiny preset: a measured CPU row whose repeats are listed and
# whose median is one of them, and a device recforge refuses gets a row
# naming the error and exit 1.
#   full_ranking_eval_test.sh <build dir>/bin/recforge
set -uo pipefail
build=$(cd "$(dirname "$1")/.." && pwd)
script="$(cd "$(dirname "$0")/../.." && pwd)/benchmarks/eval/full_ranking.sh"
work=$(mktemp -d /tmp/recforge-full-ranking.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; [ -f "$work/table.md" ] && cat "$work/table.md"; exit 1; }
export RECFORGE_BUILD_DIR=$build RECFORGE_BENCH_DIR=$work/bench PRESET=tiny REPEAT=3 OMP_NUM_THREADS=1

DEVICES=cpu "$script" "$work/table.md" 2>"$work/err" || fail "exit $? on the CPU: $(cat "$work/err")"
/usr/bin/python3 - "$work/table.md" <<'PY' || fail "the CPU row"
import sys
rows = [l for l in open(sys.argv[1]) if l.startswith("| cpu |")]
assert len(rows) == 1, rows
cells = [c.strip() for c in rows[0].strip().strip("|").split("|")]
users, median, each = int(cells[1].replace(",", "")), float(cells[2]), [float(t) for t in cells[4].split(",")]
assert users == 200, users  # the tiny preset's users, one held-out item each
assert len(each) == 3 and sorted(each)[1] == median, (each, median)
assert 0 < float(cells[5]) <= 1 and 0 < float(cells[6]) <= 1, cells
PY

DEVICES="cpu tpu" "$script" "$work/table.md" 2>"$work/err"
[ $? -eq 1 ] || fail "a refused device did not give exit 1"
grep -q "^| tpu | failed: recforge: config error: .*run.device" "$work/table.md" || fail "the failed row does not name recforge's error"
grep -q "^| cpu | 200 |" "$work/table.md" || fail "the CPU row went missing beside a failed one"
echo "ok: a measured CPU row with its repeats; a refused device is named"
