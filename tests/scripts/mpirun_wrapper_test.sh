#!/usr/bin/env bash
# launch/mpirun.sh builds the mpirun command line it should: checked against a
# stand-in mpirun on PATH that prints its arguments, one per line.
#   -np anywhere before the program, never after it (the job's own -n stays);
#   --oversubscribe on one node beyond the physical cores, never with a hostfile;
#   CUDA_VISIBLE_DEVICES passed on one node only; --bind-to none unless given;
#   mpirun options with values pass through; bad invocations exit 2.
set -u
here=$(cd "$(dirname "$0")" && pwd)
wrapper=$here/../../launch/mpirun.sh
work=$(mktemp -d /tmp/recforge-mpirun-wrapper.XXXXXX)
trap 'rm -rf "$work"' EXIT
printf '#!/bin/sh\nprintf "%%s\\n" "$@"\n' >"$work/mpirun"
chmod +x "$work/mpirun"
fail() { echo "FAIL: $*"; echo "--- mpirun got ---"; cat "$work/args" 2>/dev/null; exit 1; }
run() { PATH=$work:$PATH CUDA_VISIBLE_DEVICES=2,3 NCCL_DEBUG=INFO "$wrapper" "$@" >"$work/args" 2>&1; }
line() { paste -sd' ' "$work/args"; }

run -np 1000 /bin/true train job.yaml -n 3 || fail "a one-node launch failed"
[[ "$(line)" == "-np 1000 --bind-to none --oversubscribe "*"/bin/true train job.yaml -n 3" ]] || fail "one node, 1000 ranks"
grep -qx CUDA_VISIBLE_DEVICES "$work/args" || fail "CUDA_VISIBLE_DEVICES was not passed on one node"
grep -qx NCCL_DEBUG "$work/args" || fail "NCCL_DEBUG was not passed"

run -np 16 --hostfile hosts --map-by ppr:8:node -x LD_LIBRARY_PATH --mca btl tcp,self /bin/true train job.yaml ||
  fail "a multi-node launch failed"
! grep -qx -- --oversubscribe "$work/args" || fail "--oversubscribe with a hostfile (it hides a short hostfile)"
! grep -qx CUDA_VISIBLE_DEVICES "$work/args" || fail "the launch node's CUDA_VISIBLE_DEVICES was sent to every node"
[[ "$(line)" == *"--hostfile hosts --map-by ppr:8:node -x LD_LIBRARY_PATH --mca btl tcp,self /bin/true train job.yaml" ]] ||
  fail "mpirun options did not pass through in order"
[[ "$(line)" == "-np 16 "* ]] || fail "-np 16 was not first"

run -npernode 8 --host=a,b /bin/true || fail "a launch without -np failed"
! grep -qx -- -np "$work/args" || fail "-np was added though the user gave none (mpirun's placement decides)"
! grep -qx -- --oversubscribe "$work/args" || fail "--oversubscribe with --host=a,b"
! grep -qx CUDA_VISIBLE_DEVICES "$work/args" || fail "CUDA_VISIBLE_DEVICES forwarded with --host=a,b"
run -np 1000 --oversubscribe /bin/true || fail "a launch with the user's --oversubscribe failed"
[ "$(grep -cx -- --oversubscribe "$work/args")" -eq 1 ] || fail "--oversubscribe given twice"

# Slots are the cores this process may use: one allowed core, two ranks.
if command -v taskset >/dev/null; then
  first_cpu=$(awk '/^Cpus_allowed_list:/ {split($2, c, /[-,]/); print c[1]}' /proc/self/status)
  PATH=$work:$PATH taskset -c "${first_cpu:-0}" "$wrapper" -np 2 /bin/true >"$work/args" 2>&1 ||
    fail "a launch on one allowed core failed"
  grep -qx -- --oversubscribe "$work/args" || fail "no --oversubscribe for 2 ranks on 1 allowed core"
fi

run -np 2 --bind-to core /bin/true || fail "a launch with --bind-to failed"
[ "$(grep -cx -- --bind-to "$work/args")" -eq 1 ] || fail "--bind-to given twice"
grep -qx core "$work/args" || fail "the user's --bind-to core was dropped"

for bad in "-np" "-np x /bin/true" "-np 2" "--hostfile"; do
  # shellcheck disable=SC2086  # the words of $bad are the arguments
  run $bad; code=$?
  [ "$code" -eq 2 ] || fail "'mpirun.sh $bad' exited $code, expected 2"
done
echo "ok: -np, hostfiles, --oversubscribe, CUDA_VISIBLE_DEVICES, --bind-to and bad invocations"
