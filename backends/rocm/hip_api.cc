#include "hip_api.h"

#include <dlfcn.h>

#include "absl/strings/str_cat.h"

namespace accel::rocm {
namespace {

// Resolves `name` into `slot`; a required symbol that is missing becomes the
// first error, so the reason names the function the runtime lacks.
template <typename F>
void Resolve(void* handle, const char* name, F*& slot, bool required, std::string* missing) {
  slot = reinterpret_cast<F*>(dlsym(handle, name));
  if (slot == nullptr && required && missing->empty()) *missing = name;
}

}  // namespace

absl::StatusOr<std::unique_ptr<HipApi>> HipApi::Load(const std::string& library) {
  // RTLD_LOCAL: the runtime's symbols must not satisfy lookups of other
  // libraries in the process (a second HIP, a CUDA shim with the same names).
  void* handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* error = dlerror();
    return absl::UnavailableError(
        absl::StrCat("cannot load ", library, " (", error != nullptr ? error : "unknown", ")"));
  }
  std::unique_ptr<HipApi> api(new HipApi());
  api->library = library;
  api->handle_ = handle;
  std::string missing;
  auto required = [&](const char* name, auto& slot) {
    Resolve(handle, name, slot, /*required=*/true, &missing);
  };
  required("hipInit", api->hipInit);
  required("hipGetErrorName", api->hipGetErrorName);
  required("hipGetErrorString", api->hipGetErrorString);
  required("hipDriverGetVersion", api->hipDriverGetVersion);
  required("hipGetDeviceCount", api->hipGetDeviceCount);
  required("hipGetDevice", api->hipGetDevice);
  required("hipSetDevice", api->hipSetDevice);
  required("hipDeviceSynchronize", api->hipDeviceSynchronize);
  required("hipDeviceGetAttribute", api->hipDeviceGetAttribute);
  required("hipDeviceGetName", api->hipDeviceGetName);
  required("hipDeviceTotalMem", api->hipDeviceTotalMem);
  required("hipDeviceGetPCIBusId", api->hipDeviceGetPCIBusId);
  required("hipMemGetInfo", api->hipMemGetInfo);
  required("hipMalloc", api->hipMalloc);
  required("hipFree", api->hipFree);
  required("hipMemset", api->hipMemset);
  required("hipMemcpyHtoDAsync", api->hipMemcpyHtoDAsync);
  required("hipMemcpyDtoHAsync", api->hipMemcpyDtoHAsync);
  required("hipMemcpyDtoDAsync", api->hipMemcpyDtoDAsync);
  required("hipMemsetD8Async", api->hipMemsetD8Async);
  required("hipMemsetD16Async", api->hipMemsetD16Async);
  required("hipMemsetD32Async", api->hipMemsetD32Async);
  required("hipStreamCreateWithFlags", api->hipStreamCreateWithFlags);
  required("hipStreamDestroy", api->hipStreamDestroy);
  required("hipStreamSynchronize", api->hipStreamSynchronize);
  required("hipStreamWaitEvent", api->hipStreamWaitEvent);
  required("hipEventCreateWithFlags", api->hipEventCreateWithFlags);
  required("hipEventDestroy", api->hipEventDestroy);
  required("hipEventRecord", api->hipEventRecord);
  required("hipEventSynchronize", api->hipEventSynchronize);
  required("hipEventQuery", api->hipEventQuery);
  required("hipEventElapsedTime", api->hipEventElapsedTime);
  required("hipModuleLoadData", api->hipModuleLoadData);
  required("hipModuleUnload", api->hipModuleUnload);
  required("hipModuleGetFunction", api->hipModuleGetFunction);
  required("hipModuleLaunchKernel", api->hipModuleLaunchKernel);
  Resolve(handle, "hipDeviceGetUuid", api->hipDeviceGetUuid, /*required=*/false, &missing);
  Resolve(handle, "hipModuleGetGlobal", api->hipModuleGetGlobal, /*required=*/false, &missing);
  // ROCm 6 exports the old layout as ...R0000 (and still under the plain
  // name); ROCm 5 only has the plain name, with the old layout.
  Resolve(handle, "hipGetDevicePropertiesR0000", api->hipGetDevicePropertiesLegacy,
          /*required=*/false, &missing);
  if (api->hipGetDevicePropertiesLegacy == nullptr) {
    Resolve(handle, "hipGetDeviceProperties", api->hipGetDevicePropertiesLegacy,
            /*required=*/false, &missing);
  }
  if (!missing.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(library, " lacks ", missing, ": not a usable HIP runtime (ROCm 5 or newer)"));
  }
  return api;
}

}  // namespace accel::rocm
