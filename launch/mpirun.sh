#!/usr/bin/env bash
# mpirun wrapper for recforge jobs on one node or several.
#   launch/mpirun.sh -np 4 build/bin/recforge train configs/als_gowalla.yaml
# One rank per GPU (recforge picks the GPU from the local rank); on CPU-only
# machines ranks share the cores: each rank takes its node's cores / the ranks
# on its node (recforge reads the local size mpirun gives it), unless
# OMP_NUM_THREADS or run.threads says otherwise.
# NCCL knobs worth knowing (exported to every rank when set):
#   NCCL_DEBUG=INFO            print the chosen transport and topology
#   NCCL_SOCKET_IFNAME=eth0    the interface for bootstrap and TCP transport
#   NCCL_IB_DISABLE=1          force TCP when InfiniBand misbehaves
#   NCCL_P2P_DISABLE=1         disable NVLink/PCIe peer-to-peer (debugging)
set -euo pipefail
np=1
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    -np|-n) np=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
extra=()
[ "$np" -gt "$(nproc)" ] && extra+=(--oversubscribe)
[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
env_flags=()
for var in $(compgen -e | grep -E '^(NCCL_|RECFORGE_|RF_|OMP_|CUDA_VISIBLE_DEVICES$)' || true); do env_flags+=(-x "$var"); done
exec mpirun -np "$np" --bind-to none "${extra[@]}" "${env_flags[@]}" "${args[@]}"
