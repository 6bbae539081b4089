#!/usr/bin/env bash
# Builds and runs the GPU benchmarks on a host with a GPU, printing HAL vs raw
# driver ratios in one run. Usage: bench/gpu/run-on-gpu.sh [build-dir]
# (default: build-gpu next to this checkout). Needs the CUDA toolkit's cuda.h
# and nvcc at build time and libcuda.so.1 (or ACCEL_CUDA_LIBRARY) at run time.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build-gpu}"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DACCEL_SANITIZE=OFF >/dev/null
ninja -C "$build" cuda_overhead_bench
# Only the cuda backend: the benchmark compares it with raw CUDA.
ACCEL_BACKENDS=cuda "$build/bin/cuda_overhead_bench"
