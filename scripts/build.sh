#!/usr/bin/env bash
# Configures and builds accelpool into build/ (or $1, with extra CMake args).
# Shared by demo.sh and test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
shift || true
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
# Two jobs: the machines we target have two cores and builds share them.
cmake --build "$build_dir" -j "${ACCEL_BUILD_JOBS:-2}"
