#!/usr/bin/env bash
# `recforge report` rendered by headless Chromium: trains the tiny ALS config,
# writes its report, loads it with `chromium --headless --dump-dom` and checks
# that the browser's DOM holds both charts with their curves, the evaluation
# and per-group tables, and the config; and that a screenshot renders.
# Exit 77 (skipped) when Chromium is not installed.
set -u
recforge=$1
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$browser" ] || { echo "chromium not installed: skipped"; exit 77; }
work=$(mktemp -d /tmp/recforge-report.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
"$recforge" train configs/als_tiny.yaml --set run.output_dir="$work/runs" >"$work/out" 2>&1 || { cat "$work/out"; fail "training failed"; }
"$recforge" report "$work/runs/als_tiny" -o "$work/report.html" || fail "recforge report failed"
flags=(--headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run --user-data-dir="$work/profile")
timeout 60 "$browser" "${flags[@]}" --dump-dom "file://$work/report.html" >"$work/dom.html" 2>"$work/browser.log" ||
  { tail -n 20 "$work/browser.log"; fail "chromium could not load the report"; }
expect() { grep -qE -- "$1" "$work/dom.html" || fail "the rendered page lacks $2"; }
expect '<svg id="loss-chart"' "the loss chart"
expect '<svg id="metric-chart"' "the metric chart"
[ "$(grep -o '<polyline class="series"' "$work/dom.html" | wc -l)" -ge 3 ] || fail "fewer than 3 curves were drawn"
expect '<table id="eval-table">' "the evaluation table"
expect '<td>recall@10</td><td>0\.[0-9]{4}</td>' "the recall@10 row"
expect '<table id="group-table">' "the per-group table"
expect '<td>train10-49</td>' "the train10-49 group"
expect '<pre id="config">run:' "the config"
timeout 60 "$browser" "${flags[@]}" --window-size=1000,1400 --screenshot="$work/page.png" "file://$work/report.html" \
  >/dev/null 2>&1 || fail "chromium could not take a screenshot"
[ "$(stat -c %s "$work/page.png")" -gt 20000 ] || fail "the screenshot is (nearly) empty"
echo "ok: the report renders in $("$browser" --version 2>/dev/null | head -1)"
