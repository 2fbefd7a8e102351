# shellcheck shell=bash
# Sourced by the shell tests that run recforge jobs:
#   source "$here/../testing/job_test_env.sh" <name>
# gives $work (a temporary directory removed at exit), Open MPI allowed as
# root (CI containers), one OpenMP thread per rank, fail <message>, which
# prints the message and the tail of $work/out, then exits 1, and
# expect_error <exit code> <message> <command...>, which fails unless the
# command exits with that code and its output contains the message.
work=$(mktemp -d "/tmp/recforge-$1.XXXXXX")
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
fail() {
  echo "FAIL: $*"
  if [ -f "$work/out" ]; then echo "--- output ---"; tail -n 20 "$work/out"; fi
  exit 1
}
expect_error() {
  local code=$1 message=$2
  shift 2
  "$@" >"$work/out" 2>&1
  local got=$?
  [ "$got" -eq "$code" ] || fail "exit $got, expected $code: $*"
  grep -qF -- "$message" "$work/out" || fail "no '$message' in the output of: $*"
}
