// The kernels the fake libcuda's device runs (tests/vendor/fake_cuda_driver.cc):
// host functions under the mangled names nvcc gives the kernels of
// tests/cuda_driver/kernel_program.cu, bench/gpu/programs/ and the kernel
// set's empty() (for bench/gpu/cuda_overhead_bench), each with the
// parameter layout the driver reports for it, so that a CUDA program's
// launches go all the way to a node's cuda backend and back on a machine
// without a GPU.
#ifndef ACCEL_TESTS_VENDOR_FAKE_CUDA_KERNELS_H_
#define ACCEL_TESTS_VENDOR_FAKE_CUDA_KERNELS_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace accel::fake_cuda {

struct Dim3 {
  uint32_t x = 1, y = 1, z = 1;
};

struct FakeParam {
  size_t offset;
  size_t size;
};

struct FakeKernel {
  const char* name;  // mangled, as in the module's image
  std::vector<FakeParam> params;
  // Runs every thread of the grid, in turn, over the launch's parameters.
  void (*run)(void** params, Dim3 grid, Dim3 block);
};

// The kernel of that name, or nullptr.
const FakeKernel* FindFakeKernel(const char* name);

}  // namespace accel::fake_cuda

#endif  // ACCEL_TESTS_VENDOR_FAKE_CUDA_KERNELS_H_
