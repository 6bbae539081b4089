// Kernels whose parameters cover what packing must get right: scalars of
// every size, pointers, structs by value and alignment padding. Built by
// nvcc into a cubin, PTX and a fat binary for kernel_params_test.
#include "param_kernel_types.h"

extern "C" __global__ void scalars(int, float, double, char, long long) {}
extern "C" __global__ void pointers(float*, const int*, int) {}
extern "C" __global__ void structs(Pair, Small, char, Pair) {}
extern "C" __global__ void aligned(char, double, char, float4) {}
extern "C" __global__ void none() {}

// A __device__ variable puts a section of no file bytes (.nv.global) in the
// cubin; one larger than the whole cubin "ends" past the file, and the
// reader must step over it.
__device__ float scratch[1 << 20];
extern "C" __global__ void uses_scratch(int i) { scratch[i & ((1 << 20) - 1)] = 1.0f; }

// A barrier gives the kernel a one-byte .nv.info record, which nvcc pads to
// the record's full 16-bit field; sm_100's cubins have one in every kernel.
extern "C" __global__ void tiled(const float* in, float* out, int n) {
  __shared__ float tile[256];
  tile[threadIdx.x] = in[threadIdx.x];
  __syncthreads();
  out[threadIdx.x] = tile[255 - threadIdx.x] * n;
}
