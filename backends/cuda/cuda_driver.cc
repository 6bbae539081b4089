#include "cuda_driver.h"

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "cuda_errors.h"

namespace accel::cuda {
namespace {

// Expands a cuda.h macro first, so cuMemAlloc becomes "cuMemAlloc_v2".
#define ACCEL_CUDA_STR2(x) #x
#define ACCEL_CUDA_STR(x) ACCEL_CUDA_STR2(x)

constexpr const char* kDefaultLibrary = "libcuda.so.1";

// Entry points whose older name has the same signature as the versioned one
// the header selects. A driver older than the header (cuEventElapsedTime_v2
// arrived in CUDA 12.8), or a compatible stack that only exports the plain
// name, is still served. Other _v2 functions changed their signature, so
// their plain names are never a substitute.
const char* OlderName(const char* name) {
  static const char* const kPairs[][2] = {
      {"cuEventElapsedTime_v2", "cuEventElapsedTime"},
      {"cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease"},
      {"cuDeviceGetUuid_v2", "cuDeviceGetUuid"},
  };
  for (const auto& pair : kPairs) {
    if (std::strcmp(pair[0], name) == 0) return pair[1];
  }
  return nullptr;
}

template <typename Fn>
bool Resolve(void* handle, const char* name, Fn& slot) {
  void* symbol = dlsym(handle, name);
  if (symbol == nullptr) {
    if (const char* older = OlderName(name)) symbol = dlsym(handle, older);
  }
  slot = reinterpret_cast<Fn>(symbol);
  return symbol != nullptr;
}

}  // namespace

std::string DriverLibraryPath() {
  const char* override_path = std::getenv("ACCEL_CUDA_LIBRARY");
  return override_path != nullptr && *override_path != '\0' ? override_path : kDefaultLibrary;
}

DriverLoadResult LoadDriver() {
  DriverLoadResult result;
  auto driver = std::make_unique<Driver>();
  driver->library = DriverLibraryPath();
  // RTLD_LOCAL: the driver's symbols stay out of the global namespace, so an
  // application's own libcuda (or a second stack) is not shadowed.
  driver->handle = dlopen(driver->library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (driver->handle == nullptr) {
    const char* error = dlerror();
    result.unavailable_reason = absl::StrCat("no driver: cannot load ", driver->library, " (",
                                             error != nullptr ? error : "unknown error", ")");
    return result;
  }
  std::string missing;
#define ACCEL_CUDA_RESOLVE_REQUIRED(name)                                                \
  if (!Resolve(driver->handle, ACCEL_CUDA_STR(name), driver->name) && missing.empty()) { \
    missing = ACCEL_CUDA_STR(name);                                                      \
  }
#define ACCEL_CUDA_RESOLVE_OPTIONAL(name) \
  Resolve(driver->handle, ACCEL_CUDA_STR(name), driver->name);
  ACCEL_CUDA_REQUIRED_FUNCTIONS(ACCEL_CUDA_RESOLVE_REQUIRED)
  ACCEL_CUDA_OPTIONAL_FUNCTIONS(ACCEL_CUDA_RESOLVE_OPTIONAL)
#undef ACCEL_CUDA_RESOLVE_REQUIRED
#undef ACCEL_CUDA_RESOLVE_OPTIONAL
  if (!missing.empty()) {
    // Nothing of the library ran yet, so it can be unloaded again.
    dlclose(driver->handle);
    result.unavailable_reason =
        absl::StrCat("unsupported driver: ", driver->library, " does not export ", missing);
    return result;
  }

  // From here on the library stays loaded for the life of the process even if
  // initialisation fails: a real driver may have started threads and
  // registered handlers in cuInit, and unloading it under them crashes.
  CUresult init = driver->cuInit(0);
  if (init == CUDA_ERROR_NO_DEVICE) {
    result.unavailable_reason = "driver present but no device";
    return result;
  }
  if (init != CUDA_SUCCESS) {
    result.unavailable_reason =
        absl::StrCat("init failed: cuInit returned ", DescribeResult(*driver, init));
    return result;
  }
  if (CUresult r = driver->cuDriverGetVersion(&driver->driver_version); r != CUDA_SUCCESS) {
    result.unavailable_reason =
        absl::StrCat("init failed: cuDriverGetVersion returned ", DescribeResult(*driver, r));
    return result;
  }
  int count = 0;
  if (CUresult r = driver->cuDeviceGetCount(&count); r != CUDA_SUCCESS) {
    result.unavailable_reason =
        absl::StrCat("init failed: cuDeviceGetCount returned ", DescribeResult(*driver, r));
    return result;
  }
  if (count <= 0) {
    result.unavailable_reason = "driver present but no device";
    return result;
  }
  result.device_count = count;
  result.driver = std::move(driver);
  return result;
}

}  // namespace accel::cuda
