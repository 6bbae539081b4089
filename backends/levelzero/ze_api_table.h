// The Level Zero entry points this backend uses, resolved with dlsym from a
// dlopen'd libze_loader.so.1. The backend never links the loader, so one
// build runs on hosts with and without Intel's runtime; ze_api.h supplies the
// prototypes only (decltype), never a link-time dependency.
#ifndef ACCEL_BACKENDS_LEVELZERO_ZE_API_TABLE_H_
#define ACCEL_BACKENDS_LEVELZERO_ZE_API_TABLE_H_

#include <level_zero/ze_api.h>

#include <string>

#include "absl/status/statusor.h"

namespace accel::levelzero {

// Every function the backend needs; a loader lacking one is unusable.
#define ACCEL_ZE_REQUIRED_FUNCTIONS(X)       \
  X(zeInit)                                  \
  X(zeDriverGet)                             \
  X(zeDeviceGet)                             \
  X(zeDeviceGetProperties)                   \
  X(zeDeviceGetComputeProperties)            \
  X(zeDeviceGetMemoryProperties)             \
  X(zeDeviceGetCommandQueueGroupProperties)  \
  X(zeContextCreate)                         \
  X(zeContextDestroy)                        \
  X(zeMemAllocDevice)                        \
  X(zeMemAllocHost)                          \
  X(zeMemFree)                               \
  X(zeCommandListCreateImmediate)            \
  X(zeCommandListDestroy)                    \
  X(zeCommandListAppendMemoryCopy)           \
  X(zeCommandListAppendMemoryFill)           \
  X(zeCommandListAppendLaunchKernel)         \
  X(zeCommandListAppendBarrier)              \
  X(zeCommandListAppendWriteGlobalTimestamp) \
  X(zeEventPoolCreate)                       \
  X(zeEventPoolDestroy)                      \
  X(zeEventCreate)                           \
  X(zeEventDestroy)                          \
  X(zeEventHostSynchronize)                  \
  X(zeEventQueryStatus)                      \
  X(zeEventHostReset)                        \
  X(zeModuleCreate)                          \
  X(zeModuleDestroy)                         \
  X(zeModuleBuildLogGetString)               \
  X(zeModuleBuildLogDestroy)                 \
  X(zeKernelCreate)                          \
  X(zeKernelDestroy)                         \
  X(zeKernelGetProperties)                   \
  X(zeKernelSetGroupSize)                    \
  X(zeKernelSetArgumentValue)

// Extensions and later additions: null when the loader predates them.
#define ACCEL_ZE_OPTIONAL_FUNCTIONS(X) X(zeDevicePciGetPropertiesExt) X(zeModuleGetGlobalPointer)

struct ZeApi {
#define ACCEL_ZE_MEMBER(name) decltype(&::name) name = nullptr;
  ACCEL_ZE_REQUIRED_FUNCTIONS(ACCEL_ZE_MEMBER)
  ACCEL_ZE_OPTIONAL_FUNCTIONS(ACCEL_ZE_MEMBER)
#undef ACCEL_ZE_MEMBER
};

// Where the table came from, and why it is unusable when it is.
struct ZeLibrary {
  std::string path;     // the library that was (or would have been) loaded
  std::string failure;  // "" when every required function resolved
  const ZeApi* api = nullptr;
};

// Loads the loader named by ACCEL_LEVEL_ZERO_LIBRARY, else libze_loader.so.1,
// and resolves the table. Never fails: `failure` says what went wrong, in the
// form the backend reports ("no driver: cannot load ...").
//
// The library stays loaded for the life of the process once it resolved:
// the loader and the drivers it pulls in start threads and register exit
// handlers, so unloading them under a live process is not safe.
ZeLibrary LoadZeLibrary();

}  // namespace accel::levelzero

#endif  // ACCEL_BACKENDS_LEVELZERO_ZE_API_TABLE_H_
