# shellcheck shell=bash
# Sourced by the side-by-side benches: the peer's virtual environment (PyPI
# packages), created on first use and reused while its imports still work (a
# pip install cut short is retried on the next run).
#   venv=$(peer_venv "$work/venv" "torch h5py" torch h5py numpy)
peer_venv() {
  local venv=$1 imports=$2
  shift 2
  if ! "$venv/bin/python" -c "import ${imports// /, }" 2>/dev/null; then
    python3 -m venv "$venv" >&2 && "$venv/bin/pip" install -q "$@" >/dev/null || return 1
  fi
  echo "$venv"
}
