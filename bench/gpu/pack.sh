#!/usr/bin/env bash
# Packs what bench/gpu/run-on-gpu.sh needs into build-gpu/pack, for a GPU
# machine that has a driver and the CUDA toolkit but none of our Debian
# libraries. Run here, after a build; the pack travels with the checkout.
#
#   bench/gpu/pack.sh [BUILD_DIR]   (default: build; the pack goes to
#                                    $ACCEL_GPU_PACK, default build-gpu/pack)
#
# The pack is an install tree of its own, so that every program finds its
# neighbours the way an installed accelpool does:
#   bin/   poold, accel-session-worker, poolctl, accel-run, cuda_overhead_bench
#   lib/   libaccel_hal.so.0, libaccel_client.so.0 and every Debian library
#          they need that is not glibc (glibc cannot travel: the CUDA programs
#          and the machine's own driver load into the same processes);
#          lib/compat/ holds libstdc++ and libgcc_s, used only when the
#          machine's own are older than ours
#   lib/accelpool/backends/libaccel_backend_{cuda,remote}.so
#   lib/accelpool/cuda/     accelpool's libcuda.so.1 and libnvidia-ml.so.1
#   programs/  the GPU programs (bench/gpu/programs, the no-kernel runtime
#          program and the kernel program of tests/cuda_driver), built by
#          nvcc for the GPU's arch (ACCEL_GPU_ARCH, default 90: H100/H200)
#   share/accel_kernels.bundle   the kernel set, for cuda_overhead_bench
#   REQUIRES  the newest glibc symbol version the pack needs
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
pack="${ACCEL_GPU_PACK:-$root/build-gpu/pack}"
arch="${ACCEL_GPU_ARCH:-90}"
nvcc="${NVCC:-/usr/local/cuda/bin/nvcc}"
[ -x "$nvcc" ] || { echo "pack: no nvcc at $nvcc (set NVCC)" >&2; exit 1; }

# (Already built when a test of the build runs this.)
[ -n "${ACCEL_GPU_PACK_BUILT:-}" ] || ninja -C "$build" poold accel-session-worker poolctl accel-run accel_backend_cuda \
  accel_backend_remote accel_cuda_driver accel_nvml cuda_overhead_bench accel_kernel_bundle \
  >/dev/null

rm -rf "$pack"
mkdir -p "$pack"/{bin,lib/compat,lib/accelpool/backends,lib/accelpool/cuda,programs,share}

# Real files under their sonames: links may not survive the trip.
put() {  # put FILE DIR [NAME]
  strip --strip-unneeded -o "$2/${3:-$(basename "$1")}" "$1"
}
for program in poold accel-session-worker poolctl accel-run cuda_overhead_bench; do
  put "$build/bin/$program" "$pack/bin"
done
put "$build/lib/libaccel_hal.so.0" "$pack/lib"
put "$build/lib/libaccel_client.so.0" "$pack/lib"
for backend in cuda remote; do
  put "$build/lib/accelpool/backends/libaccel_backend_$backend.so" "$pack/lib/accelpool/backends"
done
put "$build/lib/accelpool/cuda/libcuda.so.1" "$pack/lib/accelpool/cuda"
put "$build/lib/accelpool/cuda/libnvidia-ml.so.1" "$pack/lib/accelpool/cuda"
cp "$build/share/accelpool/kernels/accel_kernels.bundle" "$pack/share/"

# Every library the pack's files load, as this machine resolves them, less
# glibc, what the pack already holds, and libcuda (the GPU machine's own).
libraries() {
  find "$pack/bin" "$pack/lib" -type f \( -perm -u+x -o -name '*.so*' \) -print0 |
    LD_LIBRARY_PATH="$pack/lib:$pack/lib/accelpool/cuda" xargs -0 ldd 2>/dev/null |
    awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' | sort -u
}
for _ in 1 2; do  # twice: a copied library may need others
  while read -r soname path; do
    case "$soname" in
      libc.so.* | libm.so.* | libdl.so.* | libpthread.so.* | librt.so.* | ld-linux*) continue ;;
      libcuda.so.* | libnvidia-ml.so.*) continue ;;
      libstdc++.so.* | libgcc_s.so.*) [ -e "$pack/lib/compat/$soname" ] || put "$path" "$pack/lib/compat" "$soname" ;;
      *) [ -e "$pack/lib/$soname" ] || [ -e "$pack/lib/accelpool/cuda/$soname" ] ||
        put "$path" "$pack/lib" "$soname" ;;
    esac
  done < <(libraries)
done

# The programs: SASS for the GPU's arch and PTX beside it, as a user's
# build would ship.
gencode="-gencode arch=compute_$arch,code=[sm_$arch,compute_$arch]"
build_program() {  # build_program NAME SOURCE [LIBS...]
  local name=$1 source=$2
  shift 2
  # shellcheck disable=SC2086
  "$nvcc" -O2 $gencode -o "$pack/programs/$name" "$source" "$@"
}
build_program vector_add "$root/bench/gpu/programs/vector_add.cu"
build_program matrix_mul "$root/bench/gpu/programs/matrix_mul.cu"
build_program sgemm "$root/bench/gpu/programs/sgemm.cu" -lcublas
build_program runtime_program "$root/tests/cuda_driver/runtime_program.cu"
build_program kernel_program "$root/tests/cuda_driver/kernel_program.cu"

# The newest glibc symbol version anything in the pack needs: run-on-gpu.sh
# refuses a machine whose glibc is older, rather than failing half way.
# (lib/compat is left out: it is used only where ldd finds it loads.)
find "$pack/bin" "$pack/lib" "$pack/programs" -path "$pack/lib/compat" -prune -o -type f -print0 |
  xargs -0 objdump -T 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1 |
  sed 's/GLIBC_//' >"$pack/REQUIRES"

echo "pack: $(du -sh "$pack" | cut -f1) in $pack, glibc >= $(cat "$pack/REQUIRES")"
