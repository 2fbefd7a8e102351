#!/usr/bin/env bash
# expect.sh [--fresh <dir>] <exit code> <regex or ""> <command...>
# Runs the command and checks its exit code and that its combined output matches.
# --fresh: removes <dir> first (a job's output directory: an earlier run's
# checkpoints, of other data or code, would be resumed).
if [ "${1:-}" = --fresh ]; then rm -rf -- "$2"; shift 2; fi
expected_code=$1; pattern=$2; shift 2
output=$("$@" 2>&1); code=$?
if [ "$code" != "$expected_code" ]; then
  echo "expected exit code $expected_code, got $code from: $*"; echo "$output"; exit 1
fi
if [ -n "$pattern" ] && ! grep -Eq -- "$pattern" <<<"$output"; then
  echo "output does not match /$pattern/ from: $*"; echo "$output"; exit 1
fi
echo "$output" | head -n 20
