#include "ze_api_table.h"

#include <dlfcn.h>

#include <cstdlib>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace accel::levelzero {

constexpr char kDefaultLibrary[] = "libze_loader.so.1";
constexpr char kLibraryEnv[] = "ACCEL_LEVEL_ZERO_LIBRARY";

namespace {
// One resolved table per loader path for the life of the process, like the
// loader itself: reopening the backend reuses it instead of leaking another.
struct TableCache {
  absl::Mutex mu;
  std::map<std::string, const ZeApi*> tables ABSL_GUARDED_BY(mu);
};
TableCache& Tables() {
  static TableCache* const cache = new TableCache();
  return *cache;
}
}  // namespace

ZeLibrary LoadZeLibrary() {
  ZeLibrary result;
  const char* override_path = std::getenv(kLibraryEnv);
  result.path =
      override_path != nullptr && override_path[0] != '\0' ? override_path : kDefaultLibrary;
  absl::MutexLock lock(&Tables().mu);
  if (auto it = Tables().tables.find(result.path); it != Tables().tables.end()) {
    result.api = it->second;
    return result;
  }
  // RTLD_LOCAL: the loader's symbols must not satisfy other plugins' lookups
  // (another backend may dlopen a different Level Zero loader).
  void* handle = dlopen(result.path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* error = dlerror();
    result.failure = absl::StrCat("no driver: cannot load ", result.path, " (",
                                  error != nullptr ? error : "unknown dlopen error", ")");
    return result;
  }
  // Never freed, like the library itself (see the header); kept in the cache.
  auto* api = new ZeApi();
  std::string missing;
#define ACCEL_ZE_RESOLVE_REQUIRED(name)                                  \
  api->name = reinterpret_cast<decltype(&::name)>(dlsym(handle, #name)); \
  if (api->name == nullptr) absl::StrAppend(&missing, missing.empty() ? "" : ", ", #name);
  ACCEL_ZE_REQUIRED_FUNCTIONS(ACCEL_ZE_RESOLVE_REQUIRED)
#undef ACCEL_ZE_RESOLVE_REQUIRED
#define ACCEL_ZE_RESOLVE_OPTIONAL(name) \
  api->name = reinterpret_cast<decltype(&::name)>(dlsym(handle, #name));
  ACCEL_ZE_OPTIONAL_FUNCTIONS(ACCEL_ZE_RESOLVE_OPTIONAL)
#undef ACCEL_ZE_RESOLVE_OPTIONAL
  if (!missing.empty()) {
    result.failure = absl::StrCat("no driver: ", result.path,
                                  " is not a usable Level Zero loader (missing ", missing, ")");
    delete api;
    // Nothing from the library ran yet, so unloading it is safe here.
    dlclose(handle);
    return result;
  }
  result.api = api;
  Tables().tables[result.path] = api;
  return result;
}

}  // namespace accel::levelzero
