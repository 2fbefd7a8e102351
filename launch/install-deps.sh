#!/usr/bin/env bash
# Installs recforge's build and test dependencies from Debian packages.
# Idempotent (skips packages already installed), quiet, and fails loudly: any
# apt error stops the script with a non-zero exit and the failing command.
# The CUDA toolkit (nvcc, cuBLAS, cuSPARSE, NCCL) is expected to be installed
# already; recforge builds without it too (RECFORGE_CUDA=AUTO).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ccache git
  openmpi-bin libopenmpi-dev
  libhdf5-dev hdf5-tools libssl-dev
  libyaml-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libopenblas-dev
  libspdlog-dev libfmt-dev
  libcli11-dev nlohmann-json3-dev libcpp-httplib-dev libfaiss-dev wrk
  time            # /usr/bin/time: peak memory in benchmarks/data/prepare_bench.sh
  clang libclang-rt-14-dev libomp-dev
  python3 python3-numpy python3-h5py python3-yaml python3-matplotlib python3-venv
  chromium        # renders `recforge report` pages in their test
  shellcheck      # lints every shell script (scripts.shellcheck)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get update -qq >/tmp/recforge-apt.log 2>&1; then
  echo "install-deps: apt-get update failed:" >&2; cat /tmp/recforge-apt.log >&2; exit 1
fi
if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >>/tmp/recforge-apt.log 2>&1; then
  echo "install-deps: apt-get install failed:" >&2; tail -n 40 /tmp/recforge-apt.log >&2; exit 1
fi
echo "install-deps: done"
