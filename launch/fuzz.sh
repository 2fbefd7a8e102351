#!/usr/bin/env bash
# Builds the libFuzzer targets with clang into build-asan/ (CMakePresets.json
# asan-ubsan: the library and the fuzzers under ASan + UBSan) and runs each for
# a bounded time:
#   launch/fuzz.sh [seconds per target, default 60] [targets..., default all]
# Targets (tests/fuzz/): ratings (rating-file readers), config (YAML + schema),
# checkpoint (the HDF5 checkpoint reader), http (the server's request handling).
# Seed corpora: tests/fuzz/corpus/<target>/ (crash inputs found once are kept
# there as regression inputs), plus 1,000 generated rating lines, configs/*.yaml,
# and the golden and a freshly trained checkpoint when build/bin/recforge exists.
# A crash in recforge's code fails the script (input: build-asan/crash-<target>-*).
# Crashes inside libhdf5 itself (its object-header decoder is not safe against
# malicious files; the server only opens files whose SHA-256 matches their
# manifest, RELIABILITY X1) are counted and kept in build-asan/hdf5-findings/.
set -euo pipefail
seconds=${1:-60}
shift || true
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(ratings config checkpoint http)
cd "$(dirname "$0")/.."
root=$PWD
cmake --preset asan-ubsan >/dev/null
cmake --build build-asan --target "${targets[@]/%/_fuzzer}"
export LSAN_OPTIONS="suppressions='$root/tests/fuzz/lsan.supp'"  # quoted: the options parser splits on spaces
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The harnesses never call BLAS: without worker threads OpenBLAS adds none to
# every fuzzing process (a fork-mode child once hung with one beside it).
export OPENBLAS_NUM_THREADS=1

corpus=$(mktemp -d /tmp/recforge-fuzz.XXXXXX)
trap 'rm -rf "$corpus"' EXIT
for t in ratings config checkpoint http; do mkdir -p "$corpus/$t"; cp -r tests/fuzz/corpus/$t/. "$corpus/$t"/ 2>/dev/null || true; done
cp configs/*.yaml "$corpus/config"/
cp tests/checkpoint/golden/v1/step-*/checkpoint.h5 "$corpus/checkpoint/golden_v1.h5"
if [ -x build/bin/recforge ]; then
  build/bin/recforge data generate --preset tiny --out "$corpus/gen" --force >/dev/null
  { printf '\000\002'; head -n 1000 "$corpus/gen/ratings.csv"; } >"$corpus/ratings/generated_ml_csv"
  build/bin/recforge train configs/als_tiny.yaml --set run.output_dir="$corpus/runs" --set train.epochs=1 >/dev/null 2>&1 &&
    cp "$(ls -d "$corpus"/runs/als_tiny/checkpoints/step-* | tail -1)/checkpoint.h5" "$corpus/checkpoint/als_tiny.h5"
  rm -rf "$corpus/gen" "$corpus/runs"
fi

# Replays a crash input and says where it crashed: "libhdf5" when, in the
# report's stacks, a libhdf5 frame comes before any frame of recforge's code;
# "ours" when one of ours comes first; "flaky" when the input alone does not
# reproduce the crash (e.g. memory that grew over a whole fork job).
crash_site() {
  local report frame
  report=$("build-asan/fuzz/$1_fuzzer" -rss_limit_mb=1024 "$2" 2>&1) && { echo flaky; return; }
  frame=$(grep -aE '^ +#[0-9]+ ' <<<"$report" | grep -aE 'libhdf5|recforge::|librecforge|/framework/|/tests/fuzz/' |
          head -n 1)
  if [ -z "$frame" ]; then echo flaky
  elif grep -q 'libhdf5' <<<"$frame"; then echo libhdf5
  else echo ours
  fi
}

# fuzz <target> <max input bytes>
fuzz() {
  local target=$1 max_len=$2 status
  echo "fuzzing $target for ${seconds}s"
  local common=("$corpus/$target" -max_total_time="$seconds" -max_len="$max_len" -timeout=1 -rss_limit_mb=1024
                -print_final_stats=1 -artifact_prefix="build-asan/crash-$target-")
  if [ "$target" = checkpoint ]; then
    # Keep going past crashes so those inside libhdf5 can be told from ours.
    # Fork mode has no limit of its own on a child that hangs outside the
    # fuzzed input (libFuzzer's -timeout is a SIGALRM handler in the child; a
    # child once deadlocked inside ASan's allocator): timeout(1) ends the whole
    # process group, and the run counts as a hang, reported but not failed.
    local hung=0
    set +e
    timeout -k 10 $((seconds + 120)) build-asan/fuzz/checkpoint_fuzzer "${common[@]}" -fork=1 -ignore_crashes=1 2>&1 |
      grep -E "^#|stat::|ERROR|SUMMARY|property|Done" | tail -n 6
    status=${PIPESTATUS[0]}
    set -e
    if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
      hung=1
      echo "checkpoint fuzzer: stopped by timeout(1) $((seconds + 120))s after its start (a fork child hung)"
    fi
    mkdir -p build-asan/hdf5-findings
    local ours=0 theirs=0 flaky=0 input
    for input in build-asan/crash-checkpoint-* build-asan/leak-checkpoint-* build-asan/oom-checkpoint-* \
                 build-asan/timeout-checkpoint-*; do
      [ -e "$input" ] || continue
      case $(crash_site checkpoint "$input") in
        libhdf5) theirs=$((theirs + 1)); mv "$input" build-asan/hdf5-findings/ ;;
        flaky) flaky=$((flaky + 1)); mv "$input" build-asan/hdf5-findings/ ;;
        ours) ours=$((ours + 1)); echo "checkpoint fuzzer: crash in recforge's code: $input" ;;
      esac
    done
    echo "checkpoint: $theirs crash(es) inside libhdf5 and $flaky not reproducible alone (kept in" \
         "build-asan/hdf5-findings/), $ours in recforge"
    echo "RELIABILITY X2 seconds=$seconds crashes_in_recforge=$ours crashes_in_libhdf5=$theirs not_reproducible=$flaky hung=$hung"
    [ "$ours" -eq 0 ] || exit 1
    return
  fi
  set +e
  "build-asan/fuzz/${target}_fuzzer" "${common[@]}" 2>&1 | grep -E "^#|stat::|ERROR|SUMMARY|property|Done" | tail -n 12
  status=${PIPESTATUS[0]}
  set -e
  [ "$status" -eq 0 ] || { echo "$target fuzzer failed (exit $status); crash inputs: $(ls build-asan/crash-"$target"-* 2>/dev/null)"; exit 1; }
  declare -A id=([ratings]=I4 [config]=I2 [http]=X6)
  echo "RELIABILITY ${id[$target]} seconds=$seconds crashes=0"
}
for target in "${targets[@]}"; do
  case "$target" in
    ratings) fuzz ratings 4096 ;;
    config) fuzz config 2048 ;;
    checkpoint) fuzz checkpoint 131072 ;;
    http) fuzz http 4096 ;;
    *) echo "unknown fuzz target $target (ratings, config, checkpoint, http)"; exit 2 ;;
  esac
done
