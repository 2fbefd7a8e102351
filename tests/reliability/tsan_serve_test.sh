#!/usr/bin/env bash
# The server under ThreadSanitizer (RELIABILITY S4): builds recforge and the
# score batcher and connection pool tests with the tsan preset (build-tsan/),
# runs their concurrency tests, then serves with the TSan binary (8 HTTP workers, 8
# clients) while the normal build trains and publishes versions
# (tests/serve/serve_test.py --server). Any TSan report fails.
#   tsan_serve_test.sh <recforge of the normal build>
set -euo pipefail
recforge=$1
cd "$(dirname "$0")/../.."
cmake --preset tsan >/dev/null
cmake --build build-tsan --target recforge_cli score_batcher_test elastic_thread_pool_test >/dev/null
export TSAN_OPTIONS="halt_on_error=0 second_deadlock_stack=1"
out=$(build-tsan/tests/serve/score_batcher_test 2>&1) || { echo "$out" | tail -40; exit 1; }
! grep -q "WARNING: ThreadSanitizer" <<<"$out" || { echo "$out" | grep -A30 "WARNING: ThreadSanitizer" | head -60; exit 1; }
echo "score batcher: $(grep -o '\[  PASSED  \] [0-9]* tests' <<<"$out") under TSan, no report"
out=$(build-tsan/tests/serve/elastic_thread_pool_test 2>&1) || { echo "$out" | tail -40; exit 1; }
! grep -q "WARNING: ThreadSanitizer" <<<"$out" || { echo "$out" | grep -A30 "WARNING: ThreadSanitizer" | head -60; exit 1; }
echo "connection pool: $(grep -o '\[  PASSED  \] [0-9]* tests' <<<"$out") under TSan, no report"
/usr/bin/python3 tests/serve/serve_test.py "$recforge" --server build-tsan/bin/recforge
