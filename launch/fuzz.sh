#!/usr/bin/env bash
# Builds the libFuzzer targets with clang into build-fuzz/ (ASan + UBSan) and
# runs each for a bounded time:  launch/fuzz.sh [seconds per target, default 60]
# Targets: ratings (the rating-file readers), config (YAML loading and schema
# validation). The seed corpus is tests/fuzz/corpus/<target>/ (plus 1,000 lines
# of generated ratings, and configs/*.yaml for config); crashes are written to
# build-fuzz/crash-<target>-* and the script fails.
set -euo pipefail
seconds=${1:-60}
cd "$(dirname "$0")/.."
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DRECFORGE_FUZZ=ON -DRECFORGE_CUDA=OFF -DRECFORGE_MPI=OFF \
  -DRECFORGE_BUILD_BENCHMARKS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz --target ratings_fuzzer config_fuzzer

corpus=$(mktemp -d /tmp/recforge-fuzz.XXXXXX)
trap 'rm -rf "$corpus"' EXIT
mkdir -p "$corpus/ratings" "$corpus/config"
cp tests/fuzz/corpus/ratings/* "$corpus/ratings"/
cp tests/fuzz/corpus/config/* configs/*.yaml "$corpus/config"/
if [ -x build/bin/recforge ]; then
  build/bin/recforge data generate --preset tiny --out "$corpus/gen" >/dev/null
  { printf '\000\002'; head -n 1000 "$corpus/gen/ratings.csv"; } >"$corpus/ratings/generated_ml_csv"
  rm -rf "$corpus/gen"
fi
# fuzz <target> <max input bytes>
fuzz() {
  echo "fuzzing $1 for ${seconds}s"
  build-fuzz/fuzz/"$1"_fuzzer "$corpus/$1" -max_total_time="$seconds" -max_len="$2" -timeout=1 -rss_limit_mb=512 \
    -print_final_stats=1 -artifact_prefix=build-fuzz/crash-"$1"- 2>&1 | grep -E "^#|stat::|ERROR|SUMMARY|property|Done" | tail -n 12
  local status=${PIPESTATUS[0]}
  [ "$status" -eq 0 ] || { echo "$1 fuzzer failed (exit $status); crash inputs: $(ls build-fuzz/crash-"$1"-* 2>/dev/null)"; exit 1; }
}
fuzz ratings 4096
fuzz config 2048
