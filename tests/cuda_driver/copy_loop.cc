// A driver-API program that leases through accelpool's libcuda.so.1 and
// copies to its device until it is killed: for the test that a killed
// program's lease and memory are freed at once. Prints "copying" once the
// first copy is done.
#include <cuda.h>

#include <cstdio>
#include <vector>

int main() {
  CUdevice device;
  CUcontext context;
  CUdeviceptr buffer;
  const size_t bytes = 64 << 20;
  if (cuInit(0) != CUDA_SUCCESS || cuDeviceGet(&device, 0) != CUDA_SUCCESS ||
      cuDevicePrimaryCtxRetain(&context, device) != CUDA_SUCCESS ||
      cuCtxSetCurrent(context) != CUDA_SUCCESS || cuMemAlloc(&buffer, bytes) != CUDA_SUCCESS) {
    std::fprintf(stderr, "copy_loop: could not set up\n");
    return 1;
  }
  std::vector<char> host(bytes, 'x');
  for (bool first = true;; first = false) {
    if (cuMemcpyHtoD(buffer, host.data(), bytes) != CUDA_SUCCESS) return 2;
    if (first) {
      std::printf("copying\n");
      std::fflush(stdout);
    }
  }
}
