// A CUDA program with one kernel: on a pool of host devices its launch
// must fail cleanly with cudaErrorNoKernelImageForDevice, and the program
// exits normally (status 0 when that is what it saw).
#include <cuda_runtime.h>

#include <cstdio>

__global__ void scale(float* x, float a, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] *= a;
}

int main() {
  float* x = nullptr;
  if (cudaMalloc(&x, 1024 * sizeof(float)) != cudaSuccess) return 2;
  scale<<<4, 256>>>(x, 2.0f, 1024);
  const cudaError_t launched = cudaGetLastError();
  std::printf("launch: %s\n", cudaGetErrorName(launched));
  cudaFree(x);
  return launched == cudaErrorNoKernelImageForDevice ? 0 : 1;
}
