#!/usr/bin/env bash
# The whole test suite: install what is missing, build, run every test with
# ctest, then run the conformance and unit tests again under AddressSanitizer
# and UndefinedBehaviorSanitizer, then a short run of every fuzz target.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# The dashboard's browser test: Chromium, and playwright-core from npm. If
# they cannot be installed, that test says so and skips; the rest runs.
scripts/install-browser-deps.sh build/browser ||
  echo "accelpool: Chromium or playwright-core could not be installed" >&2

scripts/build.sh build
(cd build && ctest -j 2 --output-on-failure --timeout 600)

# The sanitizer build skips benchmarks; its ctest reruns the HAL, backend,
# conformance and pool tests (poold and clients under ASan+UBSan too).
# Leaks inside vendor runtimes are suppressed by tests/sanitizers/lsan.supp.
scripts/build.sh build-asan -DACCEL_SANITIZE=ON -DACCEL_BUILD_BENCHMARKS=OFF
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  LSAN_OPTIONS="suppressions=$PWD/../tests/sanitizers/lsan.supp" \
  ctest -j 2 --output-on-failure --timeout 900 -L 'conformance|unit|pool' \
    -E 'OneGibibyte')  # 1 GiB through ASan's allocator takes minutes; the plain run has it

# The libFuzzer targets, briefly (about a minute in all): a build with
# clang, ASan and UBSan of what poold decodes, each target on its corpus.
# bench/fuzz-long.sh is the long run.
scripts/fuzz.sh smoke
