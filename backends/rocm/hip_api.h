// The HIP runtime as a table of function pointers, resolved with dlsym from
// libamdhip64.so at run time. The plugin never links the runtime: a host
// without ROCm must still load the plugin and hear why it has no devices, and
// ACCEL_HIP_LIBRARY can point at another HIP implementation (Hygon DTK).
//
// Types and enums come from the HIP headers (compiled with
// __HIP_PLATFORM_AMD__); only functions whose signatures and enum values are
// stable across ROCm 5.x and 6.x are used through the table.
#ifndef ACCEL_BACKENDS_ROCM_HIP_API_H_
#define ACCEL_BACKENDS_ROCM_HIP_API_H_

#include <hip/hip_runtime_api.h>

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace accel::rocm {

struct HipApi {
  // Loads `library` (a name for the dynamic loader or a path) and resolves
  // every required function. Errors: UNAVAILABLE "cannot load LIB (dlerror)"
  // when the library is absent, FAILED_PRECONDITION when a required function
  // is missing (a HIP runtime too old or not HIP at all).
  static absl::StatusOr<std::unique_ptr<HipApi>> Load(const std::string& library);

  std::string library;  // what was loaded, for messages

  // Initialisation and errors.
  hipError_t (*hipInit)(unsigned int flags) = nullptr;
  const char* (*hipGetErrorName)(hipError_t error) = nullptr;
  const char* (*hipGetErrorString)(hipError_t error) = nullptr;
  hipError_t (*hipDriverGetVersion)(int* version) = nullptr;

  // Devices. HIP's current device is per thread: callers set it first.
  hipError_t (*hipGetDeviceCount)(int* count) = nullptr;
  hipError_t (*hipGetDevice)(int* device) = nullptr;
  hipError_t (*hipSetDevice)(int device) = nullptr;
  hipError_t (*hipDeviceSynchronize)() = nullptr;
  hipError_t (*hipDeviceGetAttribute)(int* value, hipDeviceAttribute_t attribute,
                                      int device) = nullptr;
  hipError_t (*hipDeviceGetName)(char* name, int length, hipDevice_t device) = nullptr;
  hipError_t (*hipDeviceTotalMem)(size_t* bytes, hipDevice_t device) = nullptr;
  hipError_t (*hipDeviceGetPCIBusId)(char* bus_id, int length, int device) = nullptr;
  hipError_t (*hipMemGetInfo)(size_t* free_bytes, size_t* total_bytes) = nullptr;
  // Optional (null when absent): the UUID appeared in ROCm 5.1.
  hipError_t (*hipDeviceGetUuid)(hipUUID* uuid, hipDevice_t device) = nullptr;
  // Optional: the device properties in the ROCm 5.x layout (hipDeviceProp_t
  // of the 5.x headers). ROCm 6 renamed the call for the new layout
  // (hipGetDevicePropertiesR0600) and keeps the old layout under
  // hipGetDevicePropertiesR0000 and the plain name; we resolve the old-layout
  // one, which every version has. Used for gcnArchName only.
  hipError_t (*hipGetDevicePropertiesLegacy)(void* properties, int device) = nullptr;

  // Memory.
  hipError_t (*hipMalloc)(void** pointer, size_t size) = nullptr;
  hipError_t (*hipFree)(void* pointer) = nullptr;
  hipError_t (*hipMemset)(void* pointer, int value, size_t size) = nullptr;
  hipError_t (*hipMemcpyHtoDAsync)(hipDeviceptr_t dst, void* src, size_t size,
                                   hipStream_t stream) = nullptr;
  hipError_t (*hipMemcpyDtoHAsync)(void* dst, hipDeviceptr_t src, size_t size,
                                   hipStream_t stream) = nullptr;
  hipError_t (*hipMemcpyDtoDAsync)(hipDeviceptr_t dst, hipDeviceptr_t src, size_t size,
                                   hipStream_t stream) = nullptr;
  hipError_t (*hipMemsetD8Async)(hipDeviceptr_t dst, unsigned char value, size_t count,
                                 hipStream_t stream) = nullptr;
  hipError_t (*hipMemsetD16Async)(hipDeviceptr_t dst, unsigned short value, size_t count,
                                  hipStream_t stream) = nullptr;
  hipError_t (*hipMemsetD32Async)(hipDeviceptr_t dst, int value, size_t count,
                                  hipStream_t stream) = nullptr;

  // Streams.
  hipError_t (*hipStreamCreateWithFlags)(hipStream_t* stream, unsigned int flags) = nullptr;
  hipError_t (*hipStreamDestroy)(hipStream_t stream) = nullptr;
  hipError_t (*hipStreamSynchronize)(hipStream_t stream) = nullptr;
  hipError_t (*hipStreamWaitEvent)(hipStream_t stream, hipEvent_t event,
                                   unsigned int flags) = nullptr;

  // Events.
  hipError_t (*hipEventCreateWithFlags)(hipEvent_t* event, unsigned flags) = nullptr;
  hipError_t (*hipEventDestroy)(hipEvent_t event) = nullptr;
  hipError_t (*hipEventRecord)(hipEvent_t event, hipStream_t stream) = nullptr;
  hipError_t (*hipEventSynchronize)(hipEvent_t event) = nullptr;
  hipError_t (*hipEventQuery)(hipEvent_t event) = nullptr;
  hipError_t (*hipEventElapsedTime)(float* ms, hipEvent_t start, hipEvent_t stop) = nullptr;

  // Modules.
  hipError_t (*hipModuleLoadData)(hipModule_t* module, const void* image) = nullptr;
  hipError_t (*hipModuleUnload)(hipModule_t module) = nullptr;
  hipError_t (*hipModuleGetFunction)(hipFunction_t* function, hipModule_t module,
                                     const char* name) = nullptr;
  // Optional: a module's __device__ variable.
  hipError_t (*hipModuleGetGlobal)(void** pointer, size_t* bytes, hipModule_t module,
                                   const char* name) = nullptr;
  hipError_t (*hipModuleLaunchKernel)(hipFunction_t function, unsigned int grid_x,
                                      unsigned int grid_y, unsigned int grid_z,
                                      unsigned int block_x, unsigned int block_y,
                                      unsigned int block_z, unsigned int shared_memory_bytes,
                                      hipStream_t stream, void** kernel_params,
                                      void** extra) = nullptr;

 private:
  HipApi() = default;
  // The library stays loaded for the life of the process: the HIP runtime
  // starts threads and registers exit handlers that would run unmapped code
  // after a dlclose.
  void* handle_ = nullptr;
};

}  // namespace accel::rocm

#endif  // ACCEL_BACKENDS_ROCM_HIP_API_H_
