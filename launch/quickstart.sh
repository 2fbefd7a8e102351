#!/usr/bin/env bash
# The README's main job: installs dependencies, builds recforge, and trains on
# the embedded synthetic default with 2 MPI ranks (configs/quickstart.yaml).
# Results go to runs/quickstart/ (metrics.jsonl, checkpoints).
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/install-deps.sh
bash launch/build.sh
exec bash launch/mpirun.sh -np 2 "${RECFORGE_BUILD_DIR:-build}/bin/recforge" train configs/quickstart.yaml "$@"
