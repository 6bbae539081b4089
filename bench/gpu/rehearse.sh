#!/usr/bin/env bash
# The GPU run rehearsed on a machine without a GPU: packs BUILD_DIR as for a
# GPU machine, then runs the pack against the build's stand-in driver
# (tests/vendor/fake_cuda_driver.cc), so that pack.sh and run-on-gpu.sh are
# tested by every build, not only on the rare runs a lent GPU allows.
#
#   bench/gpu/rehearse.sh BUILD_DIR   (the pack goes to BUILD_DIR/gpu-pack)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "$1" && pwd)"
export ACCEL_GPU_PACK="$build/gpu-pack"
ACCEL_GPU_PACK_BUILT=1 "$here/pack.sh" "$build"
ACCEL_GPU_REHEARSAL="$build" OUT="$ACCEL_GPU_PACK/out" "$here/run-on-gpu.sh"
