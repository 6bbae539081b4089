#!/usr/bin/env bash
# Runs accelpool on a GPU machine from the pack that bench/gpu/pack.sh made
# (build-gpu/pack): the machine needs its NVIDIA driver and nothing of ours.
#
#   bench/gpu/run-on-gpu.sh     the pack: $ACCEL_GPU_PACK, default
#                               build-gpu/pack; results also go to $OUT
#
# 1. cuda_overhead_bench: the HAL's cuda backend vs raw driver calls.
# 2. A poold serving the GPU on loopback; through accel-run against it, and
#    on the machine's own driver for comparison: vectorAdd, matrixMul and a
#    cuBLAS SGEMM (bench/gpu/programs), the kernel program and the no-kernel
#    runtime program of tests/cuda_driver. Each result is verified by the
#    program itself; the summary gives remote vs local time.
# 3. Afterwards no lease is left and poold stops cleanly.
#
# Rehearsal on a machine without a GPU: ACCEL_GPU_REHEARSAL=BUILD_DIR serves
# the stand-in driver of that build (tests/vendor/fake_cuda_driver.cc) and
# runs small sizes; there is no local driver, so no local runs and no SGEMM.
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
pack="${ACCEL_GPU_PACK:-$root/build-gpu/pack}"
out="${OUT:-$pack/out}"
mkdir -p "$out"
summary="$out/summary.txt"
: >"$summary"
failures=0
say() { echo "$*" | tee -a "$summary"; }
fail() {
  say "FAIL $*"
  failures=$((failures + 1))
}

[ -d "$pack/bin" ] || { echo "run-on-gpu: no pack in $pack: run bench/gpu/pack.sh first" >&2; exit 1; }
rehearsal="${ACCEL_GPU_REHEARSAL:-}"
if [ -n "$rehearsal" ]; then
  export ACCEL_CUDA_LIBRARY="$rehearsal/tests/fake_cuda_driver/libaccel_fake_cuda_driver.so"
  export ACCEL_FAKE_CUDA_DEVICES=1
  say "rehearsal: the stand-in driver $ACCEL_CUDA_LIBRARY"
fi

# Preflight: glibc, then every library of the pack resolvable.
needed=$(cat "$pack/REQUIRES")
have=$(getconf GNU_LIBC_VERSION | awk '{print $2}')
if [ "$(printf '%s\n%s\n' "$needed" "$have" | sort -V | head -1)" != "$needed" ]; then
  echo "run-on-gpu: this machine's glibc is $have; the pack needs $needed" >&2
  exit 1
fi
library_path="$pack/lib"
missing() {
  find "$pack/bin" "$pack/lib" -maxdepth 3 -type f \( -perm -u+x -o -name '*.so*' \) -print0 |
    LD_LIBRARY_PATH="$1:$pack/lib/accelpool/cuda" xargs -0 ldd 2>&1 | grep -E 'not found' | sort -u
}
if [ -n "$(missing "$library_path")" ]; then
  library_path="$pack/lib:$pack/lib/compat"  # this machine's libstdc++ is older
fi
if [ -n "$(missing "$library_path")" ]; then
  echo "run-on-gpu: the pack cannot load here:" >&2
  missing "$library_path" >&2
  exit 1
fi
# The programs need the machine's own CUDA libraries (SGEMM: libcublas),
# which need not be on its default library path.
program_path="${LD_LIBRARY_PATH:-}"
for dir in "" /usr/local/cuda/lib64 /usr/local/cuda-*/lib64 /usr/local/cuda/targets/*/lib \
  /usr/local/lib/python3*/dist-packages/nvidia/cublas/lib; do
  [ -n "$dir" ] && [ ! -d "$dir" ] && continue
  candidate="$dir${program_path:+:$program_path}"
  if ! LD_LIBRARY_PATH="$candidate" ldd "$pack"/programs/* 2>&1 | grep -q 'not found'; then
    program_path="$candidate"
    break
  fi
done
if LD_LIBRARY_PATH="$program_path" ldd "$pack"/programs/* 2>&1 | grep -q 'not found'; then
  echo "run-on-gpu: the programs cannot load here:" >&2
  LD_LIBRARY_PATH="$program_path" ldd "$pack"/programs/* 2>&1 | grep 'not found' >&2
  exit 1
fi
export LD_LIBRARY_PATH="$library_path${program_path:+:$program_path}"
say "machine: $(uname -srm), glibc $have, libraries from $library_path"
command -v nvidia-smi >/dev/null &&
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | sed 's/^/gpu: /' |
  tee -a "$summary"

# 1. The HAL's backend against the raw driver.
echo "== cuda_overhead_bench"
ACCEL_BACKENDS=cuda timeout 300 "$pack/bin/cuda_overhead_bench" "$pack/share/accel_kernels.bundle" \
  2>&1 | tee "$out/cuda_overhead_bench.txt"
[ "${PIPESTATUS[0]}" -eq 0 ] || fail "cuda_overhead_bench"

# 2. A pool of this machine's GPU on loopback.
poold_log="$out/poold.log"
"$pack/bin/poold" --listen 127.0.0.1:0 --backends cuda >"$poold_log" 2>&1 &
poold_pid=$!
trap 'kill -9 "$poold_pid" 2>/dev/null' EXIT
pool=""
for _ in $(seq 1 300); do  # at most 30 s
  pool=$(sed -n 's/^poold listening on \([^,]*\),.*/\1/p' "$poold_log")
  [ -n "$pool" ] && break
  kill -0 "$poold_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$pool" ]; then
  echo "run-on-gpu: poold did not start:" >&2
  cat "$poold_log" >&2
  exit 1
fi
"$pack/bin/poolctl" --pool "$pool" devices 2>&1 | tee -a "$summary"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
field() { sed -n "s/.* $1 \([0-9.]*\).*/\1/p" <<<"$2" | tail -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
memory=16GiB
quota=$((16 << 30))

# run NAME OK_PATTERN [ARGS...] [--remote ARGS...]: locally (unless
# rehearsing), then through the pool with the --remote ARGS too; both must
# print OK_PATTERN and exit 0.
run() {
  local name=$1 ok=$2
  shift 2
  local args=() remote_args=()
  while [ $# -gt 0 ] && [ "$1" != "--remote" ]; do args+=("$1"); shift; done
  [ $# -gt 0 ] && shift && remote_args=("$@")
  set -- "${args[@]}"
  local program="$pack/programs/$name" local_text="" local_ms="" begin remote_text remote_ms rc
  echo "== $name $*"
  if [ -z "$rehearsal" ]; then
    begin=$(now_ms)
    local_text=$(LD_LIBRARY_PATH="$program_path" timeout 300 "$program" "$@" 2>&1)
    rc=$?
    local_ms=$(($(now_ms) - begin))
    echo "$local_text" >"$out/$name.local.txt"
    if [ "$rc" -ne 0 ] || ! grep -q "$ok" <<<"$local_text"; then
      fail "$name on the local driver (exit $rc): $(tail -3 <<<"$local_text")"
    fi
  fi
  begin=$(now_ms)
  remote_text=$(timeout 300 "$pack/bin/accel-run" --pool "$pool" --backend cuda --memory "$memory" \
    -- "$program" "$@" "${remote_args[@]}" 2>&1)
  rc=$?
  remote_ms=$(($(now_ms) - begin))
  echo "$remote_text" >"$out/$name.remote.txt"
  if [ "$rc" -ne 0 ] || ! grep -q "$ok" <<<"$remote_text"; then
    fail "$name through the pool (exit $rc): $(grep -v '^ok' <<<"$remote_text" | tail -5)"
    return
  fi
  local line="ok $name $*: wall ${remote_ms} ms remote"
  if [ -n "$local_ms" ]; then
    line+=" vs ${local_ms} ms local ($(ratio "$remote_ms" "$local_ms") x)"
    local r l
    for metric in total_ms kernel_ms gflops; do
      r=$(field "$metric" "$remote_text")
      l=$(field "$metric" "$local_text")
      [ -n "$r" ] && [ -n "$l" ] && line+="; $metric $r vs $l ($(ratio "$r" "$l") x)"
    done
  fi
  say "$line"
}

if [ -n "$rehearsal" ]; then
  run runtime_program '^PASSED: 0 failure' --remote "$quota"
  run kernel_program '^kernels: ok'
  run vector_add 'vector_add ok' 4096
  run matrix_mul 'matrix_mul ok' 64 1
else
  run runtime_program '^PASSED: 0 failure' --remote "$quota"
  run kernel_program '^kernels: ok'
  run vector_add 'vector_add ok'
  run matrix_mul 'matrix_mul ok'
  run sgemm 'sgemm ok'
fi

# 3. Nothing left behind.
leases=""
for _ in $(seq 1 50); do  # at most 5 s for the last release to land
  leases=$("$pack/bin/poolctl" --pool "$pool" -o json leases 2>&1)
  grep -q '"leases": \[\]' <<<"$leases" && break
  sleep 0.1
done
grep -q '"leases": \[\]' <<<"$leases" || fail "leases left after the programs: $leases"
kill -TERM "$poold_pid"
wait "$poold_pid"
poold_rc=$?
trap - EXIT
[ "$poold_rc" -eq 0 ] || fail "poold exited with $poold_rc (log: $poold_log)"

say "run-on-gpu: $failures failure(s)"
[ "$failures" -eq 0 ]
