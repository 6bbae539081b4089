#!/usr/bin/env bash
# The libFuzzer targets (tests/fuzz/), built with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer into build-fuzz/, run on their seed corpora.
#
#   scripts/fuzz.sh smoke            every target for a few seconds (CI)
#   scripts/fuzz.sh run SECONDS      every target for SECONDS (bench/fuzz-long.sh)
#
# New inputs go to build-fuzz/corpus/TARGET; a crash, leak or sanitizer
# report stops the target, fails the script and leaves its input in
# build-fuzz/crashes/ (make it a regression test).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-smoke}
seconds=${2:-10}
[[ "$mode" == smoke ]] && seconds=10
scripts/install-deps.sh
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-15 -DCMAKE_CXX_COMPILER=clang++-15 \
  -DACCEL_SANITIZE=ON -DACCEL_BUILD_FUZZERS=ON -DACCEL_BUILD_TESTS=OFF \
  -DACCEL_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build build-fuzz --target accel_fuzzers -j "${ACCEL_BUILD_JOBS:-2}"
mkdir -p build-fuzz/crashes
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1
ASAN_SYMBOLIZER_PATH=$(command -v llvm-symbolizer-15 || command -v llvm-symbolizer || true)
export ASAN_SYMBOLIZER_PATH
export LSAN_OPTIONS="suppressions=$PWD/tests/sanitizers/lsan.supp"
status=0
for target in module_bundle host_elf gpu_images configs session; do
  mkdir -p "build-fuzz/corpus/$target"
  log="build-fuzz/$target.log"
  # One worker, bounded inputs: a 2-core machine, and a 64 MiB device.
  if build-fuzz/bin/${target}_fuzzer -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=4096 \
      -timeout=20 -print_final_stats=1 -artifact_prefix="build-fuzz/crashes/$target-" \
      "build-fuzz/corpus/$target" "tests/fuzz/corpus/$target" >"$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    echo "fuzz $target: ${runs} executions in ${seconds} s, no crash"
  else
    echo "fuzz $target FAILED: see $log and build-fuzz/crashes/"
    tail -40 "$log"
    status=1
  fi
done
exit $status
