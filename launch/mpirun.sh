#!/usr/bin/env bash
# mpirun (Open MPI) wrapper for recforge jobs on one node or several.
#   launch/mpirun.sh -np 4 build/bin/recforge train configs/als_gowalla.yaml
#   launch/mpirun.sh -np 16 --hostfile hosts --map-by ppr:8:node build/bin/recforge train job.yaml
# Options before the program go to mpirun as they are (--hostfile, -H,
# --map-by, -x VAR, ...); everything from the program on is the job's.
# One rank per GPU (recforge picks the GPU from the local rank: give each node
# as many ranks as it has GPUs, e.g. --map-by ppr:<gpus>:node); on CPU-only
# machines ranks share the cores: each rank takes its node's cores / the ranks
# on its node (recforge asks MPI how many ranks share its node), unless
# OMP_NUM_THREADS or run.threads says otherwise.
# Ranks are not bound to cores (--bind-to none) unless --bind-to says so.
# Without -np, mpirun decides the rank count (-npernode, --map-by ppr:N:node).
# On one node (no --hostfile/-H/--host/--rankfile, not a multi-node SLURM or
# PBS allocation), more ranks than physical cores get
# --oversubscribe, and CUDA_VISIBLE_DEVICES is passed on; across nodes each
# node keeps the GPUs its scheduler gave it.
# Exported to every rank when set: RECFORGE_*, RF_*, OMP_*, NCCL_* and these
# NCCL knobs worth knowing:
#   NCCL_DEBUG=INFO            print the chosen transport and topology
#   NCCL_SOCKET_IFNAME=eth0    the interface for bootstrap and TCP transport
#   NCCL_IB_DISABLE=1          force TCP when InfiniBand misbehaves
#   NCCL_P2P_DISABLE=1         disable NVLink/PCIe peer-to-peer (debugging)
set -euo pipefail
usage="usage: launch/mpirun.sh [-np N] [mpirun options] program [arguments]"
np="" several_nodes=false binding=(--bind-to none) user_oversubscribes=false
launcher=() job=()
while [ $# -gt 0 ]; do
  case "$1" in
    -np|-n|--np)
      [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || { echo "mpirun.sh: $1 needs a rank count ($usage)" >&2; exit 2; }
      np=$2; shift 2 ;;
    --hostfile=*|--machinefile=*|--host=*|--default-hostfile=*|--rankfile=*)
      several_nodes=true; launcher+=("$1"); shift ;;
    --oversubscribe|-oversubscribe)
      user_oversubscribes=true; launcher+=("$1"); shift ;;
    --hostfile|-hostfile|--machinefile|-machinefile|-H|--host|-host|--default-hostfile|--rankfile|-rf)
      [ $# -ge 2 ] || { echo "mpirun.sh: $1 needs a value ($usage)" >&2; exit 2; }
      several_nodes=true; launcher+=("$1" "$2"); shift 2 ;;
    # mpirun options that take a value (two for --mca): the value is not the program.
    --mca|-mca|--gmca|-gmca)
      [ $# -ge 3 ] || { echo "mpirun.sh: $1 needs a name and a value ($usage)" >&2; exit 2; }
      launcher+=("$1" "$2" "$3"); shift 3 ;;
    --bind-to|-bind-to)
      [ $# -ge 2 ] || { echo "mpirun.sh: $1 needs a value ($usage)" >&2; exit 2; }
      binding=(); launcher+=("$1" "$2"); shift 2 ;;
    -x|--map-by|-map-by|--rank-by|-rank-by|--prefix|-prefix|-wdir|--wdir|-wd|--npernode|-npernode|-N|--output-filename|--timeout|--report-bindings-file)
      [ $# -ge 2 ] || { echo "mpirun.sh: $1 needs a value ($usage)" >&2; exit 2; }
      launcher+=("$1" "$2"); shift 2 ;;
    -*) launcher+=("$1"); shift ;;
    *) job=("$@"); break ;;  # the program: it and what follows are the job's
  esac
done
[ ${#job[@]} -gt 0 ] || { echo "mpirun.sh: no program to run ($usage)" >&2; exit 2; }

# The physical cores this process may run on (a container's or cgroup's
# cpuset, taskset), as mpirun counts its slots: not every core of the host.
physical_cores() {
  local allowed cores
  allowed=$(awk '/^Cpus_allowed_list:/ {print $2}' /proc/self/status 2>/dev/null)
  cores=$(lscpu -p=CPU,SOCKET,CORE 2>/dev/null | grep -v '^#' | awk -F, -v allowed="$allowed" '
    BEGIN {
      n = split(allowed, ranges, ",")
      for (r = 1; r <= n; r++) {
        if (split(ranges[r], ends, "-") == 2) { for (c = ends[1] + 0; c <= ends[2] + 0; c++) ok[c] = 1 }
        else ok[ranges[r] + 0] = 1
      }
    }
    allowed == "" || (($1 + 0) in ok) { print $2 "," $3 }' | sort -u | wc -l)
  [ "$cores" -gt 0 ] && echo "$cores" || nproc
}
# Inside a multi-node SLURM or PBS allocation mpirun spreads over its nodes.
[ "${SLURM_JOB_NUM_NODES:-1}" -gt 1 ] 2>/dev/null && several_nodes=true
[ -n "${PBS_NODEFILE:-}" ] && several_nodes=true
extra=()
if ! $several_nodes && ! $user_oversubscribes && [ -n "$np" ]; then
  [ "$np" -gt "$(physical_cores)" ] && extra+=(--oversubscribe)
fi
# Without -np, mpirun's own placement decides (-npernode, --map-by ppr:..., the hostfile's slots).
count=()
[ -z "$np" ] || count=(-np "$np")
[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
forwarded='^(NCCL_|RECFORGE_|RF_|OMP_)'
$several_nodes || forwarded='^(NCCL_|RECFORGE_|RF_|OMP_|CUDA_VISIBLE_DEVICES$)'
env_flags=()
for var in $(compgen -e | grep -E "$forwarded" || true); do env_flags+=(-x "$var"); done
# ${a[@]+"${a[@]}"}: an empty array under set -u is an error in bash < 4.4 (CentOS 7's 4.2).
exec mpirun ${count[@]+"${count[@]}"} ${binding[@]+"${binding[@]}"} ${extra[@]+"${extra[@]}"} \
  ${env_flags[@]+"${env_flags[@]}"} ${launcher[@]+"${launcher[@]}"} "${job[@]}"
