// The CUDA driver API, loaded at run time with dlopen: accelpool never links
// libcuda, so one build runs on hosts with or without NVIDIA's driver, and a
// CUDA-compatible stack that ships its own libcuda (ACCEL_CUDA_LIBRARY) is
// served by the same plugin.
//
// Members are declared through the macros of cuda.h, so `driver.cuMemAlloc`
// is really `driver.cuMemAlloc_v2` with the _v2 signature, and the symbol
// looked up is the versioned one the header selects. A few entry points have
// older names as well; those are tried when the versioned one is missing.
#ifndef ACCEL_BACKENDS_CUDA_CUDA_DRIVER_H_
#define ACCEL_BACKENDS_CUDA_CUDA_DRIVER_H_

#include <cuda.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

#if CUDA_VERSION < 11040
#error "the cuda backend needs cuda.h from CUDA 11.4 or newer"
#endif

namespace accel::cuda {

// Entry points the backend cannot work without.
#define ACCEL_CUDA_REQUIRED_FUNCTIONS(X) \
  X(cuInit)                              \
  X(cuDriverGetVersion)                  \
  X(cuDeviceGetCount)                    \
  X(cuDeviceGet)                         \
  X(cuDeviceGetName)                     \
  X(cuDeviceGetAttribute)                \
  X(cuDeviceTotalMem)                    \
  X(cuDeviceGetPCIBusId)                 \
  X(cuDevicePrimaryCtxRetain)            \
  X(cuDevicePrimaryCtxRelease)           \
  X(cuCtxGetCurrent)                     \
  X(cuCtxSetCurrent)                     \
  X(cuCtxSynchronize)                    \
  X(cuMemAlloc)                          \
  X(cuMemFree)                           \
  X(cuMemGetInfo)                        \
  X(cuMemsetD8Async)                     \
  X(cuMemsetD16Async)                    \
  X(cuMemsetD32Async)                    \
  X(cuMemcpyHtoDAsync)                   \
  X(cuMemcpyDtoHAsync)                   \
  X(cuMemcpyDtoDAsync)                   \
  X(cuStreamCreate)                      \
  X(cuStreamDestroy)                     \
  X(cuStreamSynchronize)                 \
  X(cuStreamQuery)                       \
  X(cuStreamWaitEvent)                   \
  X(cuEventCreate)                       \
  X(cuEventDestroy)                      \
  X(cuEventRecord)                       \
  X(cuEventSynchronize)                  \
  X(cuEventQuery)                        \
  X(cuEventElapsedTime)                  \
  X(cuModuleLoadData)                    \
  X(cuModuleUnload)                      \
  X(cuModuleGetFunction)                 \
  X(cuLaunchKernel)                      \
  X(cuFuncSetAttribute)

// Entry points used when present: error texts (a stub or a foreign stack may
// not answer them), the UUID, kernel parameter layouts (CUDA 12.4+), pinned
// host memory (benchmarks only), modules' globals, and kernel attributes
// and occupancy (for programs that ask through accelpool's libcuda).
#define ACCEL_CUDA_OPTIONAL_FUNCTIONS_BASE(X) \
  X(cuGetErrorName)                           \
  X(cuGetErrorString)                         \
  X(cuDeviceGetUuid)                          \
  X(cuMemAllocHost)                           \
  X(cuMemFreeHost)                            \
  X(cuModuleGetGlobal)                        \
  X(cuFuncGetAttribute)                       \
  X(cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags) \
  X(cuOccupancyAvailableDynamicSMemPerBlock)  \
  ACCEL_CUDA_CLUSTER_FUNCTIONS(X)
#if CUDA_VERSION >= 11080
#define ACCEL_CUDA_CLUSTER_FUNCTIONS(X) X(cuOccupancyMaxActiveClusters)
#else
#define ACCEL_CUDA_CLUSTER_FUNCTIONS(X)
#endif
#if CUDA_VERSION >= 12040
#define ACCEL_CUDA_OPTIONAL_FUNCTIONS(X) ACCEL_CUDA_OPTIONAL_FUNCTIONS_BASE(X) X(cuFuncGetParamInfo)
#else
#define ACCEL_CUDA_OPTIONAL_FUNCTIONS(X) ACCEL_CUDA_OPTIONAL_FUNCTIONS_BASE(X)
#endif

struct Driver {
#define ACCEL_CUDA_DECLARE(name) decltype(&::name) name = nullptr;
  ACCEL_CUDA_REQUIRED_FUNCTIONS(ACCEL_CUDA_DECLARE)
  ACCEL_CUDA_OPTIONAL_FUNCTIONS(ACCEL_CUDA_DECLARE)
#undef ACCEL_CUDA_DECLARE

  std::string library;     // the path given to dlopen
  int driver_version = 0;  // cuDriverGetVersion, e.g. 12040
  void* handle = nullptr;  // dlopen handle; never closed once cuInit ran
};

// Why a driver could not be brought up, as a distinct reason for
// backend_unavailable_reason.
struct DriverLoadResult {
  std::unique_ptr<Driver> driver;  // null on failure
  std::string unavailable_reason;  // "" when the driver works and has devices
  int device_count = 0;
};

// Loads `library` (ACCEL_CUDA_LIBRARY, else libcuda.so.1), resolves the entry
// points and runs cuInit. Never fails the process: every failure becomes a
// reason ("no driver: ...", "init failed: ...", "driver present but no device").
DriverLoadResult LoadDriver();

// The library LoadDriver opens.
std::string DriverLibraryPath();

}  // namespace accel::cuda

#endif  // ACCEL_BACKENDS_CUDA_CUDA_DRIVER_H_
