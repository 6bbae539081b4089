#!/usr/bin/env bash
# The main job: install what is missing, build everything, then show the
# devices this host offers and run saxpy on one of them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build

echo
echo "== accel-info: backends and devices on this host =="
build/bin/accel-info
echo
echo "== saxpy on the first available device =="
build/bin/accel-saxpy --device any
