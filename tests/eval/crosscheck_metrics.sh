#!/usr/bin/env bash
# crosscheck_metrics.sh <ranking_dump> <crosscheck_metrics.py>: dump, then recompute with NumPy.
set -euo pipefail
work=$(mktemp -d /tmp/recforge-crosscheck.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$1" "$work"
python=/usr/bin/python3
"$python" -c "import numpy" 2>/dev/null || python=python3
exec "$python" "$2" "$work"
