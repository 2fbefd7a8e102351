#!/usr/bin/env bash
# shellcheck disable=SC2317  # the stage functions are called through run_stage
# The one prepared run for a lent GPU machine (device tool; its time is short,
# so everything that needs the GPU is here, in order, each stage logged):
#
#   here, once:  bash ../shared/device/pack-deps.sh .deps --with-mpi
#   device:      run(command="RECFORGE_COMMIT=<short hash> bash launch/gpu-session.sh build test", carry=[".deps"], timeout_s=590)
#   at once:     run(command="RECFORGE_COMMIT=<short hash> bash launch/gpu-session.sh eval train micro", carry=[".deps"], timeout_s=590)
# (two calls, each under the tool's 10 minutes; the warm machine keeps build-gpu/,
# and a fresh one gets it rebuilt by the first stage that needs it; the working
# tree travels without .git, so the result files take the commit from
# RECFORGE_COMMIT; each benchmark stage is cut at STAGE_TIMEOUT seconds, 200)
#
# Stages (arguments pick some, run in the order given; default all): build,
# test, eval, micro, train.
#   build  unpack the carried Debian packages into /opt/rfdeps, find NCCL (the
#          image's, else the PyTorch wheel's), configure build-gpu for sm_90
#          only (H100/H200), Release, and build everything
#   test   ctest -L gpu: the CUDA kernels' parity with their CPU references,
#          the 1-rank NCCL communicator, GPU training and evaluation
#   eval   benchmarks/eval/full_ranking.sh: every test user of the ML-25M shape
#          ranked over every item (K=10) by `recforge evaluate`, CUDA and CPU
#   micro  benchmarks/run_micro.sh: every micro benchmark, CPU and CUDA side by
#          side (3 repetitions of 0.1 s: last, as the least needed)
#   train  benchmarks/train/throughput.sh: each model at the ML-25M shape on the
#          GPU, then NCF, two-tower and SASRec again through a 1-rank NCCL
#          communicator (the collective path's overhead)
# Results go to $OUT (the device tool brings them back; at most 8 files):
# session.log, unpack.log, build.log, gpu_tests.log, eval_full_gpu.md, micro_gpu.md,
# train_gpu.md, train_nccl_gpu.md, bench_logs.tgz (the benchmarks' own logs).
# Copy the .md files into benchmarks/results/. A stage that fails is reported
# and the next one still runs (without the packages nothing runs); the exit
# status is the number of failed stages.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
out=${OUT:-build-gpu/out}
mkdir -p "$out"
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
  [ -f /opt/rfdeps/env.sh ] || bash .deps/unpack-deps.sh .deps /opt/rfdeps >"$out/unpack.log" 2>&1 || return 1
  # shellcheck disable=SC1091
  . /opt/rfdeps/env.sh
  grep -E "resolves|not found|missing" "$out/unpack.log" 2>/dev/null | tee -a "$out/session.log"
  # The image's NCCL counts only with its header (a runtime-only libnccl2 cannot be built against).
  if [ -z "${NCCL_ROOT:-}" ] && ! { ldconfig -p | grep -q libnccl.so && [ -f /usr/include/nccl.h ]; }; then
    NCCL_ROOT=$(python3 -c 'import nvidia.nccl, os; print(os.path.dirname(nvidia.nccl.__file__))' 2>/dev/null ||
                python3 -c 'import nvidia.nccl; print(list(nvidia.nccl.__path__)[0])' 2>/dev/null || true)
    export NCCL_ROOT
    [ -n "$NCCL_ROOT" ] && export LD_LIBRARY_PATH="$NCCL_ROOT/lib:${LD_LIBRARY_PATH:-}"
  fi
  log "tools: $(cmake --version | head -n 1); nvcc $(command -v nvcc || echo missing); ninja $(command -v ninja || echo missing); mpirun $(command -v mpirun || echo missing)"
  log "NCCL: ${NCCL_ROOT:-system}; $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -n 1 || echo "no nvidia-smi")"
}

build() {
  # shellcheck disable=SC2086
  [ -f build-gpu/build.ninja ] ||
    cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DRECFORGE_CUDA=ON \
      -DCMAKE_CUDA_ARCHITECTURES=90 ${NCCL_ROOT:+-DNCCL_ROOT=$NCCL_ROOT} ${RFDEPS_CMAKE_FLAGS:-} >"$out/build.log" 2>&1 || {
      tail -n 40 "$out/build.log" | tee -a "$out/session.log"
      return 1
    }
  cmake --build build-gpu -j "$(nproc)" >>"$out/build.log" 2>&1 || {
    grep -m 20 -E "error|FAILED" "$out/build.log" | tee -a "$out/session.log"
    return 1
  }
}

gpu_tests() {
  ctest --test-dir build-gpu -L gpu -j 4 --output-on-failure --timeout 120 >"$out/gpu_tests.log" 2>&1
  local status=$?
  # On a GPU nothing should skip: name the first skipped tests and count them.
  { grep -E "tests passed|tests failed|\(Failed\)|\(Timeout\)" "$out/gpu_tests.log"
    grep "\*\*\*Skipped" "$out/gpu_tests.log" | head -n 10
    echo "skipped: $(grep -c "\*\*\*Skipped" "$out/gpu_tests.log")"; } | tee -a "$out/session.log"
  return "$status"
}

# A second call may land on a fresh machine (the warm one is given back after
# a short idle): the stages that need the build make it first.
built() { { [ -x build-gpu/bin/recforge ] && [ -x build-gpu/bench/kernels_bench ]; } || build; }
# Each benchmark stage is bounded so that one stuck run cannot take the rest of
# the call (STAGE_TIMEOUT seconds, default 200).
bounded() { timeout "${STAGE_TIMEOUT:-200}" "$@"; }
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
# The benchmarks' own logs (a failed row keeps only its first words); only the
# .log files: their folders also hold the datasets and runs (hundreds of MB).
keep_logs() {
  (cd /tmp && find recforge-bench-eval recforge-bench-train -maxdepth 1 -name "*.log" -print0 2>/dev/null |
    tar czf "$out/bench_logs.tgz" --null -T -) 2>/dev/null || true
}

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
case " $stages " in *" eval "* | *" train "*) keep_logs ;; esac
log "done: $failed failed stage(s)"
exit "$failed"
