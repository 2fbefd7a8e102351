#!/usr/bin/env bash
# Disk full and a read-only checkpoint directory while saving (RELIABILITY F11,
# issue 11 "Disk"): a run that already
# committed versions resumes with a file-size limit (ulimit -f, SIGXFSZ ignored,
# so write() fails with EFBIG as on a full disk) smaller than a checkpoint.
# The save must fail loudly (exit non-zero, the errno's text and the file named),
# publish nothing, and leave every committed version intact (same bytes, still
# verifying); a later run without the limit resumes from the last good version.
#   disk_full_test.sh <recforge>
set -u
recforge=$1
here=$(cd "$(dirname "$0")" && pwd)
tool=(/usr/bin/python3 "$here/../checkpoint/checkpoint_tool.py")
# shellcheck source=tests/testing/job_test_env.sh
source "$here/../testing/job_test_env.sh" diskfull
cat >"$work/job.yaml" <<YAML
run: {name: full, output_dir: $work/runs, log_level: info}
data: {format: synthetic, synthetic: {preset: tiny}, split: {method: leave_one_out}, cache: false}
model: {type: mf, factors: 64, loss: bpr}
train: {epochs: 2, batch_size: 64}
checkpoint: {every_epochs: 1, keep_last: 5}
YAML
ckpt=$work/runs/full/checkpoints

"$recforge" train "$work/job.yaml" >"$work/out" 2>&1 || fail "the first run failed"
before=$(cd "$ckpt" && find . -type f -path './step-*' | sort | xargs sha256sum)
size_kb=$(( $(stat -c %s "$("${tool[@]}" latest "$ckpt")/checkpoint.h5") / 1024 ))
limit_kb=$(( size_kb / 2 ))
# The limit is per file: logs and metrics stay far below it.
( trap '' XFSZ; ulimit -f "$limit_kb"; exec "$recforge" train "$work/job.yaml" --set train.epochs=4 ) >"$work/out" 2>&1
code=$?
[ "$code" -ne 0 ] || fail "the run claimed success with a ${limit_kb} KiB file-size limit (checkpoints are ${size_kb} KiB)"
[ "$code" -lt 128 ] || fail "the run died of a signal (exit $code) instead of reporting the error"
error=$(grep -m1 "File too large" "$work/out") || fail "the error does not give the errno's text (File too large)"
grep -q "checkpoint\.h5" <<<"$error" || fail "the error does not name the file"
after=$(cd "$ckpt" && find . -type f -path './step-*' | sort | xargs sha256sum)
[ "$before" = "$after" ] || fail "committed versions changed: before
$before
after
$after"
"${tool[@]}" verify "$ckpt" >/dev/null || fail "a committed version no longer verifies"
"$recforge" train "$work/job.yaml" --set train.epochs=4 >"$work/out" 2>&1 || fail "the run without the limit failed"
grep -q "resumed from" "$work/out" || fail "the run without the limit did not resume"
"${tool[@]}" verify "$ckpt" >/dev/null || fail "the versions after the recovery do not verify"

# Read-only: the checkpoint directory loses its write permission and the run
# continues as an unprivileged user (root ignores permissions): the save must
# fail with EACCES naming the directory, the versions unchanged.
readonly_result="skipped (neither root to drop privileges nor user namespaces)"
as_nobody=()
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
  as_nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
elif unshare --user --map-user=65534 --map-group=65534 true 2>/dev/null; then
  as_nobody=(unshare --user --map-user=65534 --map-group=65534)
fi
if [ ${#as_nobody[@]} -gt 0 ]; then
  chmod 755 "$work" && chmod -R a+rwX "$work/runs" && chmod 555 "$ckpt"
  before=$(cd "$ckpt" && find . -type f -path './step-*' | sort | xargs sha256sum)
  "${as_nobody[@]}" "$recforge" train "$work/job.yaml" --set train.epochs=6 \
    >"$work/out" 2>&1
  code=$?
  chmod 755 "$ckpt"
  [ "$code" -ne 0 ] && [ "$code" -lt 128 ] || fail "a save into a read-only directory ended with exit $code"
  denied=$(grep -m1 "Permission denied" "$work/out") || fail "the error does not give the errno's text (Permission denied)"
  grep -q "$ckpt" <<<"$denied" || fail "the error does not name the checkpoint directory"
  after=$(cd "$ckpt" && find . -type f -path './step-*' | sort | xargs sha256sum)
  [ "$before" = "$after" ] || fail "committed versions changed in the read-only directory"
  readonly_result="exit $code (${denied:0:160}...), versions intact"
fi
echo "read-only directory: $readonly_result"
echo "ok: exit $code with a ${limit_kb} KiB limit (${error:0:160}...), versions intact, recovered"
echo "RELIABILITY F11 trials=1 passed=1"
