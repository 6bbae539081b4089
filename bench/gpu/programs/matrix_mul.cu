// matrixMul, written for accelpool's GPU runs: C = A x B for square N x N
// matrices with a shared-memory tiled kernel, then C checked on the host at
// sampled entries (in double precision). Run as it is and through
// accel-run; run-on-gpu.sh compares the two times.
//
//   matrix_mul [N [ITERATIONS]]   (default 2048 10; N a multiple of 32)
//
// Prints "matrix_mul ok N total_ms X kernel_ms Y gflops Z" and exits 0, or
// says what was wrong and exits 1. The kernel is named and typed as the
// stand-in driver's `matmul` (tests/vendor/fake_cuda_kernels.cc) so the
// script can be rehearsed on a machine without a GPU.
#include <cuda_runtime.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "gpu_program.h"

constexpr int kTile = 32;

__global__ void matmul(const float* a, const float* b, float* c, int n) {
  __shared__ float ta[kTile][kTile];
  __shared__ float tb[kTile][kTile];
  const int row = blockIdx.y * kTile + threadIdx.y;
  const int col = blockIdx.x * kTile + threadIdx.x;
  float sum = 0;
  for (int t = 0; t < n; t += kTile) {
    ta[threadIdx.y][threadIdx.x] = a[row * n + t + threadIdx.x];
    tb[threadIdx.y][threadIdx.x] = b[(t + threadIdx.y) * n + col];
    __syncthreads();
    for (int k = 0; k < kTile; ++k) sum += ta[threadIdx.y][k] * tb[k][threadIdx.x];
    __syncthreads();
  }
  c[row * n + col] = sum;
}

using gpu_program::Ok;

int main(int argc, char** argv) {
  gpu_program::name = "matrix_mul";
  const int n = argc > 1 ? std::atoi(argv[1]) : 2048;
  const int iterations = argc > 2 ? std::atoi(argv[2]) : 10;
  if (n <= 0 || n % kTile != 0 || iterations <= 0) return 2;
  const size_t count = static_cast<size_t>(n) * n;
  const size_t bytes = count * sizeof(float);
  std::vector<float> a(count), b(count), c(count);
  for (size_t i = 0; i < count; ++i) {
    a[i] = static_cast<float>((i * 7) % 13) / 13.0f - 0.5f;
    b[i] = static_cast<float>((i * 5) % 11) / 11.0f - 0.5f;
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
  const dim3 block(kTile, kTile);
  const dim3 grid(n / kTile, n / kTile);
  if (!Ok(cudaEventRecord(before), "record")) return 1;
  for (int i = 0; i < iterations; ++i) matmul<<<grid, block>>>(da, db, dc, n);
  if (!Ok(cudaGetLastError(), "launch") || !Ok(cudaEventRecord(after), "record") ||
      !Ok(cudaMemcpy(c.data(), dc, bytes, cudaMemcpyDeviceToHost), "copy c")) {
    return 1;
  }
  float kernel_ms = 0;
  if (!Ok(cudaEventElapsedTime(&kernel_ms, before, after), "elapsed")) return 1;
  const double total_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  // Row-major.
  if (!gpu_program::ProductIsRight(a, b, c, n,
                                   [n](int row, int col) { return size_t(row) * n + col; })) {
    return 1;
  }
  cudaFree(da);
  cudaFree(db);
  cudaFree(dc);
  gpu_program::ReportProduct(n, iterations, total_ms, kernel_ms);
  return 0;
}
