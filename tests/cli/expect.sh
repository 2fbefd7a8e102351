#!/usr/bin/env bash
# expect.sh <exit code> <regex or ""> <command...>
# Runs the command and checks its exit code and that its combined output matches.
expected_code=$1; pattern=$2; shift 2
output=$("$@" 2>&1); code=$?
if [ "$code" != "$expected_code" ]; then
  echo "expected exit code $expected_code, got $code from: $*"; echo "$output"; exit 1
fi
if [ -n "$pattern" ] && ! grep -Eq -- "$pattern" <<<"$output"; then
  echo "output does not match /$pattern/ from: $*"; echo "$output"; exit 1
fi
echo "$output" | head -n 20
