// A CUDA program whose kernels run on a pooled CUDA device, built by plain
// nvcc: it scales a vector, adds two through pointers offset into one
// allocation, fills memory through a pointer carried inside a struct
// argument, and works on a module's __device__ array by symbol and by
// address; every result is checked on the host. It also asks the driver
// for a kernel's attributes and occupancy, and prints the answers. Prints "kernels: ok" and
// exits 0 when all are right; otherwise says what was wrong and exits 1.
// On a machine without a GPU the node's device is the fake libcuda's
// (tests/vendor/fake_cuda_kernels.h runs these kernels under their names).
#include <cuda.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <vector>

struct Span {
  float* data;
  int n;
};

// A global of the module: reached by symbol and, through its address, by a
// kernel.
__device__ float table[1000];

__global__ void scale(float* x, float a, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] *= a;
}

__global__ void add(const float* a, const float* b, float* c, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) c[i] = a[i] + b[i];
}

__global__ void fill(Span s, float v) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < s.n) s.data[i] = v;
}

namespace {

bool Check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return true;
  std::printf("%s: %s (%s)\n", what, cudaGetErrorName(e), cudaGetErrorString(e));
  return false;
}

// Whether `got` holds `expected(i)` at every i, saying where not.
template <typename F>
bool Expect(const std::vector<float>& got, F expected, const char* what) {
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] != expected(static_cast<int>(i))) {
      std::printf("%s: element %zu is %g, not %g\n", what, i, got[i],
                  expected(static_cast<int>(i)));
      return false;
    }
  }
  return true;
}

}  // namespace

int main() {
  constexpr int n = 1000;  // not a multiple of the block: the bound matters
  constexpr size_t bytes = n * sizeof(float);
  std::vector<float> host(n);
  for (int i = 0; i < n; ++i) host[i] = static_cast<float>(i);

  // One allocation of three vectors: the kernels get pointers into it.
  float* d = nullptr;
  if (!Check(cudaMalloc(&d, 3 * bytes), "cudaMalloc")) return 1;
  float* const a = d;
  float* const b = d + n;
  float* const c = d + 2 * n;
  if (!Check(cudaMemcpy(a, host.data(), bytes, cudaMemcpyHostToDevice), "copy a")) return 1;
  if (!Check(cudaMemcpy(b, host.data(), bytes, cudaMemcpyHostToDevice), "copy b")) return 1;

  scale<<<(n + 255) / 256, 256>>>(a, 2.0f, n);  // a[i] = 2i
  if (!Check(cudaGetLastError(), "scale")) return 1;
  add<<<(n + 255) / 256, 256>>>(a, b, c, n);  // c[i] = 3i
  if (!Check(cudaGetLastError(), "add")) return 1;
  if (!Check(cudaDeviceSynchronize(), "synchronize")) return 1;
  std::vector<float> got(n);
  if (!Check(cudaMemcpy(got.data(), c, bytes, cudaMemcpyDeviceToHost), "copy c")) return 1;
  if (!Expect(
          got, [](int i) { return 3.0f * i; }, "a + b"))
    return 1;
  if (!Check(cudaMemcpy(got.data(), a, bytes, cudaMemcpyDeviceToHost), "copy a back")) return 1;
  if (!Expect(
          got, [](int i) { return 2.0f * i; }, "2a"))
    return 1;

  // The kernel follows the pointer inside its struct argument: only the
  // node's own address of b works there.
  fill<<<(n + 255) / 256, 256>>>(Span{b, n / 2}, 7.0f);
  if (!Check(cudaGetLastError(), "fill")) return 1;
  if (!Check(cudaMemcpy(got.data(), b, bytes, cudaMemcpyDeviceToHost), "copy b back")) return 1;
  if (!Expect(
          got, [](int i) { return i < n / 2 ? 7.0f : static_cast<float>(i); }, "fill")) {
    return 1;
  }

  // The module's global: written by symbol, scaled by a kernel through its
  // address, read back by symbol.
  if (!Check(cudaMemcpyToSymbol(table, host.data(), bytes), "cudaMemcpyToSymbol")) return 1;
  float* in_table = nullptr;
  if (!Check(cudaGetSymbolAddress(reinterpret_cast<void**>(&in_table), table),
             "cudaGetSymbolAddress")) {
    return 1;
  }
  scale<<<(n + 255) / 256, 256>>>(in_table, 3.0f, n);
  if (!Check(cudaGetLastError(), "scale table")) return 1;
  if (!Check(cudaMemcpyFromSymbol(got.data(), table, bytes), "cudaMemcpyFromSymbol")) return 1;
  if (!Expect(
          got, [](int i) { return 3.0f * i; }, "3 table"))
    return 1;
  // A global is the module's: cudaFree refuses it.
  if (cudaFree(in_table) == cudaSuccess) {
    std::printf("cudaFree of a module's global succeeded\n");
    return 1;
  }
  cudaGetLastError();  // clear it

  // What the device's driver says of a kernel: its attributes and how many
  // of its blocks fit, through the runtime and the driver API alike.
  cudaFuncAttributes attributes{};
  if (!Check(cudaFuncGetAttributes(&attributes, scale), "cudaFuncGetAttributes")) return 1;
  int blocks = 0, block = 0, grid = 0, driver_block = 0, driver_grid = 0, clusters = 0;
  size_t shared = 0;
  if (!Check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, scale, 256, 0),
             "cudaOccupancyMaxActiveBlocksPerMultiprocessor") ||
      !Check(cudaOccupancyAvailableDynamicSMemPerBlock(&shared, scale, 4, 256),
             "cudaOccupancyAvailableDynamicSMemPerBlock") ||
      !Check(cudaOccupancyMaxPotentialBlockSize(&grid, &block, scale),
             "cudaOccupancyMaxPotentialBlockSize")) {
    return 1;
  }
  cudaLaunchConfig_t config{};
  config.gridDim = dim3(64);
  config.blockDim = dim3(256);
  cudaLaunchAttribute cluster{};
  cluster.id = cudaLaunchAttributeClusterDimension;
  cluster.val.clusterDim.x = 2;
  cluster.val.clusterDim.y = 1;
  cluster.val.clusterDim.z = 1;
  config.attrs = &cluster;
  config.numAttrs = 1;
  if (!Check(cudaOccupancyMaxActiveClusters(&clusters, scale, &config),
             "cudaOccupancyMaxActiveClusters")) {
    return 1;
  }
  // The driver's own calculator, as a driver-API program calls it.
  using PotentialBlockSize = CUresult (*)(int*, int*, CUfunction, CUoccupancyB2DSize, size_t, int);
  void* entry = nullptr;
  cudaDriverEntryPointQueryResult found{};
  CUfunction function = nullptr;
  if (!Check(cudaGetDriverEntryPointByVersion("cuOccupancyMaxPotentialBlockSize", &entry, 6050,
                                              cudaEnableDefault, &found),
             "cudaGetDriverEntryPointByVersion") ||
      entry == nullptr ||
      !Check(cudaGetFuncBySymbol(reinterpret_cast<cudaFunction_t*>(&function),
                                 reinterpret_cast<const void*>(scale)),
             "cudaGetFuncBySymbol") ||
      reinterpret_cast<PotentialBlockSize>(entry)(&driver_grid, &driver_block, function, nullptr, 0,
                                                  0) != CUDA_SUCCESS) {
    std::printf("cuOccupancyMaxPotentialBlockSize failed\n");
    return 1;
  }
  std::printf(
      "occupancy: max_threads %d regs %d blocks_256 %d shared_4x256 %zu block %d grid %d "
      "driver_block %d driver_grid %d clusters_2 %d\n",
      attributes.maxThreadsPerBlock, attributes.numRegs, blocks, shared, block, grid, driver_block,
      driver_grid, clusters);
  // What a program sets, it reads back.
  cudaFuncAttributes after{};
  if (!Check(cudaFuncSetAttribute(scale, cudaFuncAttributeMaxDynamicSharedMemorySize, 65536),
             "cudaFuncSetAttribute") ||
      !Check(cudaFuncGetAttributes(&after, scale), "cudaFuncGetAttributes after the set")) {
    return 1;
  }
  if (after.maxDynamicSharedSizeBytes != 65536) {
    std::printf("maxDynamicSharedSizeBytes is %d after setting 65536\n",
                after.maxDynamicSharedSizeBytes);
    return 1;
  }
  if (attributes.maxThreadsPerBlock <= 0 || blocks <= 0 || shared == 0 || block <= 0 ||
      block > attributes.maxThreadsPerBlock || grid <= 0 || driver_block != block ||
      driver_grid != grid || clusters <= 0) {
    std::printf("occupancy: an impossible answer\n");
    return 1;
  }

  if (!Check(cudaFree(d), "cudaFree")) return 1;
  std::printf("kernels: ok\n");
  return 0;
}
