#!/usr/bin/env bash
# `recforge data generate` never replaces data without --force, refuses an
# --out that is a file, a negative seed and a format it cannot write, and its
# whole-star format (u.data) is read back by `data prepare`.
#   data_generate_test.sh <recforge binary>
set -uo pipefail
recforge=$1
work=$(mktemp -d /tmp/recforge-generate.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
expect() {  # exit code, text, command...
  local code=$1 text=$2 out got
  shift 2
  out=$("$@" 2>&1); got=$?
  [ "$got" = "$code" ] || fail "exit $got (want $code) from: $*"$'\n'"$out"
  grep -qF -- "$text" <<<"$out" || fail "output lacks '$text' from: $*"$'\n'"$out"
}
echo precious >"$work/ratings.csv"
expect 2 "ratings.csv already exists; pass --force" "$recforge" data generate --preset tiny --out "$work"
[ "$(cat "$work/ratings.csv")" = precious ] || fail "the existing file was touched"
expect 0 "wrote $work/ratings.csv" "$recforge" data generate --preset tiny --out "$work" --force
expect 2 "exists and is not a directory" "$recforge" data generate --preset tiny --out "$work/ratings.csv"
expect 2 "--seed" "$recforge" data generate --preset tiny --out "$work/s" --seed -1
expect 2 "--format" "$recforge" data generate --preset tiny --out "$work/f" --format tsv
expect 2 "an output directory is required" "$recforge" data generate --preset tiny --out ""
expect 0 "wrote $work/100k/u.data" "$recforge" data generate --preset tiny --out "$work/100k" --format movielens_100k
cat >"$work/prepare.yaml" <<YAML
data: {format: movielens_100k, path: $work/100k/u.data, cache: false}
YAML
expect 0 "interactions" "$recforge" data prepare "$work/prepare.yaml"
echo "PASS"
