// A cuBLAS SGEMM program, written for accelpool's GPU runs: C = A x B for
// square N x N matrices through cublasSgemm (column-major), checked on the
// host at sampled entries. cuBLAS ships its kernels in compressed fat
// binaries, so through accel-run their parameter layouts come from the
// node's driver. Run as it is and through accel-run; run-on-gpu.sh
// compares the two times.
//
//   sgemm [N [ITERATIONS]]   (default 4096 20)
//
// Prints "sgemm ok N total_ms X kernel_ms Y gflops Z" and exits 0, or says
// what was wrong and exits 1.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "gpu_program.h"

namespace {

using gpu_program::Ok;
bool Ok(cublasStatus_t s, const char* what) {
  if (s == CUBLAS_STATUS_SUCCESS) return true;
  std::printf("sgemm: %s: %s (%s)\n", what, cublasGetStatusName(s), cublasGetStatusString(s));
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  gpu_program::name = "sgemm";
  const int n = argc > 1 ? std::atoi(argv[1]) : 4096;
  const int iterations = argc > 2 ? std::atoi(argv[2]) : 20;
  if (n <= 0 || iterations <= 0) return 2;
  const size_t count = static_cast<size_t>(n) * n;
  const size_t bytes = count * sizeof(float);
  std::vector<float> a(count), b(count), c(count);
  for (size_t i = 0; i < count; ++i) {
    a[i] = static_cast<float>((i * 7) % 13) / 13.0f - 0.5f;
    b[i] = static_cast<float>((i * 5) % 11) / 11.0f - 0.5f;
  }
  const auto start = std::chrono::steady_clock::now();
  cublasHandle_t handle;
  float *da = nullptr, *db = nullptr, *dc = nullptr;
  cudaEvent_t before, after;
  if (!Ok(cublasCreate(&handle), "cublasCreate") || !Ok(cudaMalloc(&da, bytes), "cudaMalloc a") ||
      !Ok(cudaMalloc(&db, bytes), "cudaMalloc b") || !Ok(cudaMalloc(&dc, bytes), "cudaMalloc c") ||
      !Ok(cudaEventCreate(&before), "event") || !Ok(cudaEventCreate(&after), "event") ||
      !Ok(cublasSetMatrix(n, n, sizeof(float), a.data(), n, da, n), "cublasSetMatrix a") ||
      !Ok(cublasSetMatrix(n, n, sizeof(float), b.data(), n, db, n), "cublasSetMatrix b")) {
    return 1;
  }
  const float one = 1, zero = 0;
  if (!Ok(cudaEventRecord(before), "record")) return 1;
  for (int i = 0; i < iterations; ++i) {
    if (!Ok(cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, da, n, db, n, &zero, dc,
                        n),
            "cublasSgemm")) {
      return 1;
    }
  }
  if (!Ok(cudaEventRecord(after), "record") ||
      !Ok(cublasGetMatrix(n, n, sizeof(float), dc, n, c.data(), n), "cublasGetMatrix c")) {
    return 1;
  }
  float kernel_ms = 0;
  if (!Ok(cudaEventElapsedTime(&kernel_ms, before, after), "elapsed")) return 1;
  const double total_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  // Column-major: element (row, col) at col * n + row. TF32 is off by
  // default, so single precision's error bound holds.
  if (!gpu_program::ProductIsRight(a, b, c, n,
                                   [n](int row, int col) { return size_t(col) * n + row; })) {
    return 1;
  }
  cublasDestroy(handle);
  cudaFree(da);
  cudaFree(db);
  cudaFree(dc);
  gpu_program::ReportProduct(n, iterations, total_ms, kernel_ms);
  return 0;
}
