// What the benchmarks here share: the best of several timed runs, and
// stopping at the first error, named, since a benchmark that goes on after
// one measures nothing.
#ifndef ACCEL_BENCH_MEASURE_H_
#define ACCEL_BENCH_MEASURE_H_

#include <errno.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>

#include "absl/status/status.h"

namespace accel::bench {

// Best of `repeats` runs of `body`, in seconds.
inline double Best(int repeats, const std::function<void()>& body) {
  double best = 1e30;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    body();
    best = std::min(
        best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

// Exits with "<program>: <what>: <status>" unless `s` is OK.
inline void Check(const absl::Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what, s.ToString().c_str());
    std::exit(1);
  }
}

}  // namespace accel::bench

#endif  // ACCEL_BENCH_MEASURE_H_
