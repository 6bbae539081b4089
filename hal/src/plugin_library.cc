#include "plugin_library.h"

#include <dlfcn.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace accel::hal::internal {
namespace {
// Marks, inside the HAL only, a plugin error that is a failure of its stream.
constexpr char kStreamFailureMark[] = "accel.hal/stream-failure";
}  // namespace

absl::StatusOr<std::shared_ptr<PluginLibrary>> PluginLibrary::Open(const std::string& path) {
  // RTLD_LOCAL keeps each plugin's symbols (and its vendor runtime's) apart.
  // RTLD_NODELETE: a plugin is never unloaded, since the vendor runtime it
  // started (its threads, its callbacks) cannot be stopped safely.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (handle == nullptr) {
    const char* error = dlerror();
    return absl::FailedPreconditionError(
        absl::StrCat("cannot load backend ", path, ": ", error != nullptr ? error : "unknown"));
  }
  auto get_api = reinterpret_cast<AccelGetBackendApiFn>(dlsym(handle, ACCEL_PLUGIN_ENTRY_POINT));
  if (get_api == nullptr) {
    dlclose(handle);
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is not an accelpool backend: no ", ACCEL_PLUGIN_ENTRY_POINT));
  }
  const AccelBackendApi* api = get_api(ACCEL_PLUGIN_ABI_MAJOR, ACCEL_PLUGIN_ABI_MINOR);
  if (api == nullptr || api->struct_size < offsetof(AccelBackendApi, error_code) ||
      api->abi_major != ACCEL_PLUGIN_ABI_MAJOR) {
    uint32_t major = api != nullptr ? api->abi_major : 0;
    dlclose(handle);
    return absl::FailedPreconditionError(
        absl::StrCat(path, " speaks plugin ABI ", major, ".x; this HAL speaks ",
                     ACCEL_PLUGIN_ABI_MAJOR, ".", ACCEL_PLUGIN_ABI_MINOR));
  }
  std::shared_ptr<PluginLibrary> library(new PluginLibrary(handle, api, path));
  if (absl::Status status = CheckRequiredFunctions(*library); !status.ok()) return status;
  return library;
}

absl::StatusOr<std::shared_ptr<PluginLibrary>> PluginLibrary::Linked(const AccelBackendApi* api) {
  if (api == nullptr || api->abi_major != ACCEL_PLUGIN_ABI_MAJOR) {
    return absl::FailedPreconditionError("linked backend speaks another plugin ABI");
  }
  std::shared_ptr<PluginLibrary> library(
      new PluginLibrary(nullptr, api, absl::StrCat("(linked) ", api->name)));
  if (absl::Status status = CheckRequiredFunctions(*library); !status.ok()) return status;
  return library;
}

PluginLibrary::~PluginLibrary() {
  if (handle_ != nullptr) dlclose(handle_);
}

bool PluginLibrary::Has(size_t offset) const {
  if (api_->struct_size < offset + sizeof(void*)) return false;
  void* fn = nullptr;
  std::memcpy(&fn, reinterpret_cast<const char*>(api_) + offset, sizeof(fn));
  return fn != nullptr;
}

absl::Status PluginLibrary::TakeError(AccelError* error) const {
  if (error == nullptr) return absl::OkStatus();
  int32_t code = api_->error_code(error);
  const char* message = api_->error_message(error);
  if (code <= 0 || code > static_cast<int32_t>(absl::StatusCode::kUnauthenticated)) {
    code = static_cast<int32_t>(absl::StatusCode::kUnknown);
  }
  absl::Status status(static_cast<absl::StatusCode>(code), message != nullptr ? message : "");
  if (Has(offsetof(AccelBackendApi, error_is_stream_failure)) &&
      api_->error_is_stream_failure(error) != 0) {
    status.SetPayload(kStreamFailureMark, absl::Cord());
  }
  api_->error_destroy(error);
  return status;
}

bool IsStreamFailure(const absl::Status& status) {
  return status.GetPayload(kStreamFailureMark).has_value();
}

absl::Status WithoutStreamFailureMark(absl::Status status) {
  status.ErasePayload(kStreamFailureMark);
  return status;
}

absl::Status CheckRequiredFunctions(const PluginLibrary& library) {
#define ACCEL_REQUIRE(field)                                                          \
  if (!library.Has(offsetof(AccelBackendApi, field))) {                               \
    return absl::FailedPreconditionError(                                             \
        absl::StrCat(library.path(), " does not provide required function " #field)); \
  }
  ACCEL_REQUIRE(error_code)
  ACCEL_REQUIRE(error_message)
  ACCEL_REQUIRE(error_destroy)
  ACCEL_REQUIRE(backend_open)
  ACCEL_REQUIRE(backend_close)
  ACCEL_REQUIRE(backend_unavailable_reason)
  ACCEL_REQUIRE(backend_device_count)
  ACCEL_REQUIRE(backend_get_device)
  ACCEL_REQUIRE(device_properties)
  ACCEL_REQUIRE(device_memory_info)
  ACCEL_REQUIRE(device_image_score)
  ACCEL_REQUIRE(buffer_allocate)
  ACCEL_REQUIRE(buffer_free)
  ACCEL_REQUIRE(stream_create)
  ACCEL_REQUIRE(stream_destroy)
  ACCEL_REQUIRE(stream_copy_host_to_device)
  ACCEL_REQUIRE(stream_copy_device_to_host)
  ACCEL_REQUIRE(stream_copy_device_to_device)
  ACCEL_REQUIRE(stream_fill)
  ACCEL_REQUIRE(stream_launch)
  ACCEL_REQUIRE(stream_record_event)
  ACCEL_REQUIRE(stream_wait_event)
  ACCEL_REQUIRE(stream_synchronize)
  ACCEL_REQUIRE(event_create)
  ACCEL_REQUIRE(event_destroy)
  ACCEL_REQUIRE(event_synchronize)
  ACCEL_REQUIRE(event_query)
  ACCEL_REQUIRE(event_elapsed_ms)
  ACCEL_REQUIRE(module_load)
  ACCEL_REQUIRE(module_destroy)
  ACCEL_REQUIRE(module_get_kernel)
#undef ACCEL_REQUIRE
  return absl::OkStatus();
}

}  // namespace accel::hal::internal
