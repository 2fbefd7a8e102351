#!/usr/bin/env bash
# Builds the libFuzzer targets with clang into build-fuzz/ (ASan + UBSan) and
# runs each for a bounded time:  launch/fuzz.sh [seconds per target, default 60]
# The seed corpus is tests/fuzz/corpus/<target>/ plus 1,000 lines of generated
# ratings; crashes are written to build-fuzz/crash-* and the script fails.
set -euo pipefail
seconds=${1:-60}
cd "$(dirname "$0")/.."
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DRECFORGE_FUZZ=ON -DRECFORGE_CUDA=OFF -DRECFORGE_MPI=OFF \
  -DRECFORGE_BUILD_BENCHMARKS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz --target ratings_fuzzer

corpus=$(mktemp -d /tmp/recforge-fuzz.XXXXXX)
trap 'rm -rf "$corpus"' EXIT
cp tests/fuzz/corpus/ratings/* "$corpus"/
if [ -x build/bin/recforge ]; then
  build/bin/recforge data generate --preset tiny --out "$corpus/gen" >/dev/null
  { printf '\000\002'; head -n 1000 "$corpus/gen/ratings.csv"; } >"$corpus/generated_ml_csv"
  rm -rf "$corpus/gen"
fi
echo "fuzzing the ratings readers for ${seconds}s"
build-fuzz/fuzz/ratings_fuzzer "$corpus" -max_total_time="$seconds" -max_len=4096 -timeout=1 -rss_limit_mb=512 \
  -print_final_stats=1 -artifact_prefix=build-fuzz/crash- 2>&1 | grep -E "^#|stat::|ERROR|SUMMARY|property|Done" | tail -n 12
status=${PIPESTATUS[0]}
[ "$status" -eq 0 ] || { echo "fuzzer failed (exit $status); crash inputs: $(ls build-fuzz/crash-* 2>/dev/null)"; exit 1; }
