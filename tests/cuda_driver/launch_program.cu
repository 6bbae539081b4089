// A CUDA program with one kernel: on a pool of host devices its launch
// must fail cleanly with cudaErrorNoKernelImageForDevice, and the program
// exits normally (status 0 when that is what it saw). Before that it asks
// the driver for the kernel's parameter layout, which the library read from
// the fatbin the runtime registered.
#include <cuda.h>
#include <cuda_runtime.h>

#include <cstdio>

__global__ void scale(float* x, float a, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] *= a;
}

int main() {
  float* x = nullptr;
  if (cudaMalloc(&x, 1024 * sizeof(float)) != cudaSuccess) return 2;
  cudaFunction_t function = nullptr;
  size_t offsets[3] = {}, sizes[3] = {};
  if (cudaGetFuncBySymbol(&function, reinterpret_cast<const void*>(scale)) != cudaSuccess) return 3;
  for (int i = 0; i < 3; ++i) {
    if (cuFuncGetParamInfo(reinterpret_cast<CUfunction>(function), i, &offsets[i], &sizes[i]) !=
        CUDA_SUCCESS) {
      return 4;
    }
  }
  std::printf("parameters at %zu, %zu, %zu of %zu, %zu, %zu bytes\n", offsets[0], offsets[1],
              offsets[2], sizes[0], sizes[1], sizes[2]);
  if (offsets[1] != 8 || sizes[1] != 4 || offsets[2] != 12 || sizes[2] != 4) return 5;
  cudaFuncAttributes attributes;
  if (cudaFuncGetAttributes(&attributes, scale) != cudaSuccess) return 6;
  scale<<<4, 256>>>(x, 2.0f, 1024);
  const cudaError_t launched = cudaGetLastError();
  std::printf("launch: %s\n", cudaGetErrorName(launched));
  // The same through cudaLaunchKernelEx (cuLaunchKernelEx underneath).
  cudaLaunchConfig_t config = {};
  config.gridDim = dim3(4);
  config.blockDim = dim3(256);
  const cudaError_t extended = cudaLaunchKernelEx(&config, scale, x, 2.0f, 1024);
  std::printf("launch ex: %s\n", cudaGetErrorName(extended));
  cudaFree(x);
  return launched == cudaErrorNoKernelImageForDevice &&
                 extended == cudaErrorNoKernelImageForDevice
             ? 0
             : 1;
}
