// vectorAdd, written for accelpool's GPU runs: c = a + b over N floats,
// copied up, added by a kernel, copied back and checked element by element.
// Run as it is (the machine's own driver) and through accel-run (a pooled
// device); run-on-gpu.sh compares the two times.
//
//   vector_add [N]   (default 16777216)
//
// Prints "vector_add ok N total_ms X kernel_ms Y" and exits 0, or says what
// was wrong and exits 1. The kernel is named and typed as the stand-in
// driver's `add` (tests/vendor/fake_cuda_kernels.cc), so the script can be
// rehearsed on a machine without a GPU.
#include <cuda_runtime.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "gpu_program.h"

__global__ void add(const float* a, const float* b, float* c, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) c[i] = a[i] + b[i];
}

using gpu_program::Ok;

int main(int argc, char** argv) {
  gpu_program::name = "vector_add";
  const int n = argc > 1 ? std::atoi(argv[1]) : 1 << 24;
  if (n <= 0) return 2;
  const size_t bytes = sizeof(float) * static_cast<size_t>(n);
  std::vector<float> a(n), b(n), c(n, -1.0f);
  for (int i = 0; i < n; ++i) {
    a[i] = static_cast<float>(i % 1000) * 0.5f;
    b[i] = static_cast<float>(i % 77) - 3.0f;
  }
  const auto start = std::chrono::steady_clock::now();
  float *da = nullptr, *db = nullptr, *dc = nullptr;
  cudaEvent_t before, after;
  if (!Ok(cudaMalloc(&da, bytes), "cudaMalloc a") || !Ok(cudaMalloc(&db, bytes), "cudaMalloc b") ||
      !Ok(cudaMalloc(&dc, bytes), "cudaMalloc c") || !Ok(cudaEventCreate(&before), "event") ||
      !Ok(cudaEventCreate(&after), "event") ||
      !Ok(cudaMemcpy(da, a.data(), bytes, cudaMemcpyHostToDevice), "copy a") ||
      !Ok(cudaMemcpy(db, b.data(), bytes, cudaMemcpyHostToDevice), "copy b")) {
    return 1;
  }
  const int block = 256;
  if (!Ok(cudaEventRecord(before), "record")) return 1;
  add<<<(n + block - 1) / block, block>>>(da, db, dc, n);
  if (!Ok(cudaGetLastError(), "launch") || !Ok(cudaEventRecord(after), "record") ||
      !Ok(cudaMemcpy(c.data(), dc, bytes, cudaMemcpyDeviceToHost), "copy c")) {
    return 1;
  }
  float kernel_ms = 0;
  if (!Ok(cudaEventElapsedTime(&kernel_ms, before, after), "elapsed")) return 1;
  const double total_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  for (int i = 0; i < n; ++i) {
    if (c[i] != a[i] + b[i]) {
      std::printf("vector_add: c[%d] = %g, not %g\n", i, c[i], a[i] + b[i]);
      return 1;
    }
  }
  cudaFree(da);
  cudaFree(db);
  cudaFree(dc);
  std::printf("vector_add ok %d total_ms %.3f kernel_ms %.3f\n", n, total_ms, kernel_ms);
  return 0;
}
