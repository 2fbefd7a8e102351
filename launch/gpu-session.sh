#!/usr/bin/env bash
# shellcheck disable=SC2317  # the stage functions are called through run_stage
# The one prepared run for a lent GPU machine (device tool; its time is short,
# so everything that needs the GPU is here, in order, each stage logged):
#
#   here, once:  bash ../shared/device/pack-deps.sh .deps --with-mpi
#   device:      run(command="RECFORGE_COMMIT=<short hash> DEADLINE=570 bash launch/gpu-session.sh",
#                    carry=[".deps"], timeout_s=590)
# One call under the tool's 10 minutes, the stages in order of need (the
# session has 15 minutes of device time, the machine's start included); with
# time left, a second call at once (the machine stays warm 30 s and keeps
# build-gpu/; a fresh one gets it rebuilt by the first stage that needs it)
# runs what the first did not reach, e.g. `... gpu-session.sh micro`. The
# working tree travels without .git, so the result files take the commit from
# RECFORGE_COMMIT.
#
# Stages (arguments pick some, run in the order given; default all): build,
# test, eval, train, micro.
#   build  unpack the carried Debian packages into /opt/rfdeps, find NCCL (the
#          image's, else the PyTorch wheel's), configure build-gpu for sm_90
#          only (H100/H200), Release, and build what the stages run (the gpu
#          tests, the CLI, the micro benchmarks)
#   test   ctest -L gpu: the CUDA kernels' parity with their CPU references,
#          the 1-rank NCCL communicator, GPU training and evaluation
#   eval   benchmarks/eval/full_ranking.sh: every test user of the ML-25M shape
#          ranked over every item (K=10) by `recforge evaluate`, CUDA and CPU
#   micro  benchmarks/run_micro.sh: every micro benchmark, CPU and CUDA side by
#          side (3 repetitions of 0.1 s: last, as the least needed)
#   train  benchmarks/train/throughput.sh: each model at the ML-25M shape on the
#          GPU, then NCF, two-tower and SASRec again through a 1-rank NCCL
#          communicator (the collective path's overhead)
# Results go to $OUT (the device tool brings back at most 8 files): session.log,
# gpu_tests.log, eval_full_gpu.md, micro_gpu.md, train_gpu.md, train_nccl_gpu.md
# and logs.tgz (unpack.log, build.log and the benchmarks' own logs, packed at
# exit: nine files would lose one).
# Copy the .md files into benchmarks/results/. A stage that fails is reported
# and the next one still runs (without the packages nothing runs); the exit
# status is the number of failed stages.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
out=$(realpath -m "${OUT:-build-gpu/out}")  # absolute: pack_logs works from /tmp
# The eval and train stages prepare the same ML-25M leave-one-out data: once.
export RECFORGE_DATA_CACHE=${RECFORGE_DATA_CACHE:-/tmp/recforge-gpu-cache}
logs=/tmp/recforge-gpu-session-logs
mkdir -p "$out" "$logs"
stages=${*:-build test eval train micro}
failed=0
log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$out/session.log"; }
run_stage() {  # name, command...: times the stage, counts a failure
  local name=$1 start=$SECONDS
  shift
  log "$name: start"
  if "$@"; then log "$name: ok in $((SECONDS - start)) s"; else log "$name: FAILED (exit $?) after $((SECONDS - start)) s"; failed=$((failed + 1)); fi
}

deps() {
  [ -f /opt/rfdeps/env.sh ] || bash .deps/unpack-deps.sh .deps /opt/rfdeps >"$logs/unpack.log" 2>&1 || return 1
  # shellcheck disable=SC1091
  . /opt/rfdeps/env.sh
  grep -E "resolves|not found|missing" "$logs/unpack.log" 2>/dev/null | tee -a "$out/session.log"
  # The image's NCCL counts only with its header (a runtime-only libnccl2 cannot be built against).
  # (grep without -q: under pipefail, -q's early exit can fail ldconfig with SIGPIPE)
  if [ -z "${NCCL_ROOT:-}" ] && ! { ldconfig -p | grep libnccl.so >/dev/null && [ -f /usr/include/nccl.h ]; }; then
    NCCL_ROOT=$(python3 -c 'import nvidia.nccl, os; print(os.path.dirname(nvidia.nccl.__file__))' 2>/dev/null ||
                python3 -c 'import nvidia.nccl; print(list(nvidia.nccl.__path__)[0])' 2>/dev/null || true)
    export NCCL_ROOT
    [ -n "$NCCL_ROOT" ] && export LD_LIBRARY_PATH="$NCCL_ROOT/lib:${LD_LIBRARY_PATH:-}"
  fi
  log "tools: $(cmake --version | head -n 1); nvcc $(command -v nvcc || echo missing); ninja $(command -v ninja || echo missing); mpirun $(command -v mpirun || echo missing)"
  log "NCCL: ${NCCL_ROOT:-system}; $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -n 1 || echo "no nvidia-smi")"
}

# What the GPU stages run: the `gpu` tests' executables (by name, and those ctest
# labels gpu), the CLI
# and the micro benchmarks; the CPU-only test binaries are not built (a third
# of the compile time on a machine lent for minutes). Prints ninja targets;
# empty if they cannot be listed (then everything is built).
gpu_targets() {
  python3 - build-gpu <<'PY' 2>>"$logs/build.log"
import json, os, subprocess, sys
build = os.path.realpath(sys.argv[1])
known = subprocess.run(["ninja", "-C", build, "-t", "targets", "all"], capture_output=True, text=True, check=True).stdout
known = {line.split(":", 1)[0] for line in known.splitlines()}
tests = json.loads(subprocess.run(["ctest", "--test-dir", build, "-L", "gpu", "--show-only=json-v1"],
                                  capture_output=True, text=True, check=True).stdout)["tests"]
wanted = {"bin/recforge"} | {t for t in known if t.startswith("bench/") and "/" not in t[len("bench/"):]
                             and not t.endswith(".o")}
# gtest_discover_tests lists a binary's tests only once it is built: on a fresh
# tree the gpu test binaries are found by their names (tests/<part>/*_gpu_test).
wanted |= {t for t in known if t.startswith("tests/") and t.endswith("_gpu_test") and "CMakeFiles" not in t}
for test in tests:
    for arg in test.get("command", []):
        path = os.path.relpath(os.path.realpath(arg), build) if arg.startswith("/") else ""
        if path in known:
            wanted.add(path)
print(" ".join(sorted(wanted & known)))
PY
}

build() {
  build_tried=1  # once per call: a target that does not compile is not retried by every stage
  # shellcheck disable=SC2086
  [ -f build-gpu/build.ninja ] ||
    cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DRECFORGE_CUDA=ON \
      -DCMAKE_CUDA_ARCHITECTURES=90 ${NCCL_ROOT:+-DNCCL_ROOT=$NCCL_ROOT} ${RFDEPS_CMAKE_FLAGS:-} >"$logs/build.log" 2>&1 || {
      tail -n 40 "$logs/build.log" | tee -a "$out/session.log"
      return 1
    }
  local targets
  targets=$(gpu_targets) || targets=""
  log "building ${targets:-everything}"
  # shellcheck disable=SC2086  # the targets are words
  bounded cmake --build build-gpu -j "$(nproc)" -- -k 0 $targets >>"$logs/build.log" 2>&1 || {
    grep -m 20 -E "error:|FAILED:" "$logs/build.log" | tee -a "$out/session.log"
    return 1
  }
}

gpu_tests() {
  built || return 1
  bounded ctest --test-dir build-gpu -L gpu -j 4 --output-on-failure --timeout 120 --no-tests=error \
    >"$out/gpu_tests.log" 2>&1
  local status=$?
  # On a GPU nothing should skip: name the first skipped tests and count them.
  { grep -E "tests passed|tests failed|\(Failed\)|\(Timeout\)" "$out/gpu_tests.log"
    grep "\*\*\*Skipped" "$out/gpu_tests.log" | head -n 10
    echo "skipped: $(grep -c "\*\*\*Skipped" "$out/gpu_tests.log")"; } | tee -a "$out/session.log"
  return "$status"
}

# Every stage brings the build up to date first (a no-op when it is): a second
# call may land on a fresh machine, or follow a build that was cut short. A
# target that fails to build (-k 0 builds the others) fails only the stages
# that run it.
built() { [ -n "${build_tried:-}" ] || build || log "${FUNCNAME[1]}: the build is incomplete; running what was built"; }
# Each stage is bounded so that one stuck run cannot take the rest of the call:
# STAGE_TIMEOUT seconds (default 200; BUILD_TIMEOUT 480, TEST_TIMEOUT 300), and never past DEADLINE
# (seconds from the script's start; 0, the default: none), so that one call
# under the tool's limit returns what the stages made before it.
deadline=${DEADLINE:-0}
bounded() {
  local limit=${STAGE_TIMEOUT:-200}
  case "${FUNCNAME[1]}" in build) limit=${BUILD_TIMEOUT:-480} ;; gpu_tests) limit=${TEST_TIMEOUT:-300} ;; esac
  if [ "$deadline" -gt 0 ] && [ $((deadline - SECONDS)) -lt "$limit" ]; then limit=$((deadline - SECONDS)); fi
  if [ "$limit" -lt 15 ]; then
    log "${FUNCNAME[1]}: skipped, ${limit} s left before DEADLINE"
    return 1
  fi
  timeout "$limit" "$@"
}
full_ranking() {
  built || return 1
  RECFORGE_BUILD_DIR=build-gpu DEVICES="cuda cpu" bounded benchmarks/eval/full_ranking.sh "$out/eval_full_gpu.md"
}
micro() {  # fewer, shorter repetitions than on the CPU: device time is short
  built || return 1
  RECFORGE_BUILD_DIR=build-gpu MICRO_FLAGS="--benchmark_min_time=0.1 --benchmark_repetitions=3" \
    bounded benchmarks/run_micro.sh "$out/micro_gpu.md"
}
train() {  # every model in one process, then the mini-batch ones through a 1-rank NCCL communicator
  built || return 1
  local status=0
  RECFORGE_BUILD_DIR=build-gpu DEVICE=cuda bounded benchmarks/train/throughput.sh "$out/train_gpu.md" || status=1
  # Debian's mpirun (unpacked with the packages) first: the image may carry another launcher.
  PATH="${OPAL_PREFIX:+$OPAL_PREFIX/bin:}$PATH" RECFORGE_BUILD_DIR=build-gpu DEVICE=cuda COMM=nccl \
    MODELS="ncf two_tower sasrec" bounded benchmarks/train/throughput.sh "$out/train_nccl_gpu.md" || status=1
  return "$status"
}
# The set-up's logs and the benchmarks' own (a failed row keeps only its first
# words); only .log files: the benchmarks' folders also hold the datasets and
# runs (hundreds of MB).
pack_logs() {
  (cd /tmp && find recforge-gpu-session-logs recforge-bench-eval recforge-bench-train -maxdepth 1 -name "*.log" \
    -print0 2>/dev/null | tar czf "$out/logs.tgz" --null -T -) 2>/dev/null || true
}
trap pack_logs EXIT

run_stage deps deps
if [ "$failed" -gt 0 ]; then
  log "no packages: pack them here first (bash ../shared/device/pack-deps.sh .deps --with-mpi) and carry .deps"
  exit "$failed"
fi
for stage in $stages; do
  case "$stage" in
    build) run_stage build build ;;
    test) run_stage test gpu_tests ;;
    eval) run_stage eval full_ranking ;;
    micro) run_stage micro micro ;;
    train) run_stage train train ;;
    *) log "unknown stage $stage (build, test, eval, micro, train)"; failed=$((failed + 1)) ;;
  esac
done
log "done: $failed failed stage(s)"
exit "$failed"
