#!/usr/bin/env bash
# slow.sh <command...>: runs the command only when RECFORGE_SLOW_TESTS=1 (tests
# that take tens of minutes on 2 cores, e.g. LightGCN's hour on Gowalla);
# otherwise exits 77, which ctest reports as skipped.
if [ "${RECFORGE_SLOW_TESTS:-0}" != 1 ]; then
  echo "slow test: set RECFORGE_SLOW_TESTS=1 to run it"; exit 77
fi
exec "$@"
