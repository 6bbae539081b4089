// What the GPU run's programs share: reporting a failed CUDA call, checking
// a matrix product at sampled entries, and the one line each prints.
#ifndef ACCEL_BENCH_GPU_PROGRAMS_GPU_PROGRAM_H_
#define ACCEL_BENCH_GPU_PROGRAMS_GPU_PROGRAM_H_

#include <cuda_runtime.h>

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <vector>

namespace gpu_program {

// The program's name, for its messages; set first thing in main.
inline const char* name = "gpu_program";

inline bool Ok(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return true;
  std::printf("%s: %s: %s (%s)\n", name, what, cudaGetErrorName(e), cudaGetErrorString(e));
  return false;
}

// C = A x B for n x n matrices, checked at 1024 sampled entries (the
// corners included) against a double-precision sum, with single
// precision's error bound. `at(row, col)` is where an entry lies.
template <typename At>
bool ProductIsRight(const std::vector<float>& a, const std::vector<float>& b,
                    const std::vector<float>& c, int n, At at) {
  for (int s = 0; s < 1024; ++s) {
    const int row = s == 0 ? 0 : s == 1 ? n - 1 : static_cast<int>((s * 2654435761u) % n);
    const int col = s == 0 ? 0 : s == 1 ? n - 1 : static_cast<int>((s * 40503u) % n);
    double want = 0;
    for (int k = 0; k < n; ++k) want += double{a[at(row, k)]} * b[at(k, col)];
    const double got = c[at(row, col)];
    if (std::fabs(got - want) > 1e-3 * (1 + std::fabs(want))) {
      std::printf("%s: C(%d,%d) = %g, not %g\n", name, row, col, got, want);
      return false;
    }
  }
  return true;
}

// "NAME ok N total_ms X kernel_ms Y gflops Z", which run-on-gpu.sh reads.
inline void ReportProduct(int n, int iterations, double total_ms, float kernel_ms) {
  const double gflops = 2.0 * n * n * static_cast<double>(n) * iterations / (kernel_ms * 1e6);
  std::printf("%s ok %d total_ms %.3f kernel_ms %.3f gflops %.1f\n", name, n, total_ms, kernel_ms,
              gflops);
}

}  // namespace gpu_program

#endif  // ACCEL_BENCH_GPU_PROGRAMS_GPU_PROGRAM_H_
