#!/usr/bin/env bash
# Every shell script of the tree passes shellcheck at warning level, following
# the helpers they source: the launch/ scripts users run, the benchmark
# scripts, the GPU session script (which has no machine to fail on before it
# is lent) and the shell tests. Skips (77) without shellcheck.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v shellcheck >/dev/null || { echo "shellcheck is not installed"; exit 77; }
if git rev-parse --git-dir >/dev/null 2>&1; then
  mapfile -t scripts < <(git ls-files '*.sh')
else
  mapfile -t scripts < <(find . -name '*.sh' -not -path './build*' -not -path './.*' | sort)
fi
[ "${#scripts[@]}" -gt 0 ] || { echo "FAIL: no shell scripts found"; exit 1; }
shellcheck -x -S warning "${scripts[@]}"
echo "ok: ${#scripts[@]} scripts pass shellcheck -S warning"
