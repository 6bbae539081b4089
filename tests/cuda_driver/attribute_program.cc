// A driver-API program that prints what it sees of device 0: its name and
// total memory, then "attribute N V" for every CUdevice_attribute number its
// cuda.h defines (V "-" where cuDeviceGetAttribute fails). Exits 0 when
// cuInit and the device queries succeeded.
#include <cuda.h>

#include <cstdio>

int main() {
  if (cuInit(0) != CUDA_SUCCESS) return 1;
  CUdevice device = 0;
  if (cuDeviceGet(&device, 0) != CUDA_SUCCESS) return 1;
  char name[256] = {};
  size_t total = 0;
  if (cuDeviceGetName(name, sizeof(name), device) != CUDA_SUCCESS ||
      cuDeviceTotalMem(&total, device) != CUDA_SUCCESS) {
    return 1;
  }
  std::printf("name %s\ntotal %zu\n", name, total);
  for (int attribute = 1; attribute < CU_DEVICE_ATTRIBUTE_MAX; ++attribute) {
    int value = 0;
    if (cuDeviceGetAttribute(&value, static_cast<CUdevice_attribute>(attribute), device) ==
        CUDA_SUCCESS) {
      std::printf("attribute %d %d\n", attribute, value);
    } else {
      std::printf("attribute %d -\n", attribute);
    }
  }
  return 0;
}
