#!/usr/bin/env bash
# configs/README.md must list every config key the built binary knows, with the
# same type, default and description (regenerate the table with
# `build/bin/recforge config keys` when this fails).
set -euo pipefail
recforge=$1; readme=$2
missing=0
while IFS= read -r row; do
  case "$row" in "| \`"*) ;; *) continue ;; esac
  if ! grep -qxF -- "$row" "$readme"; then
    echo "configs/README.md lacks: $row"; missing=$((missing + 1))
  fi
done < <("$recforge" config keys)
[ "$missing" -eq 0 ] || { echo "$missing key rows missing; regenerate with: recforge config keys"; exit 1; }
echo "configs/README.md lists every key"
