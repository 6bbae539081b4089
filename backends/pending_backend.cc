// A vendor backend that does not drive devices yet: it tells whether the
// vendor's driver library is on this host, so accel-info and the conformance
// suite say exactly why the backend has no devices. Built once per vendor
// with ACCEL_PENDING_NAME, ACCEL_PENDING_LIBRARY and ACCEL_PENDING_ENV (the
// variable that overrides the library path).
#include <dlfcn.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "accel/hal/plugin/backend_interface.h"

namespace {

class PendingBackend : public accel::hal::plugin::BackendImpl {
 public:
  explicit PendingBackend(std::string reason) : reason_(std::move(reason)) {}
  const std::string& unavailable_reason() const override { return reason_; }
  uint32_t device_count() const override { return 0; }
  accel::hal::plugin::DeviceImpl& device(uint32_t) override { std::abort(); }

 private:
  std::string reason_;
};

absl::StatusOr<std::unique_ptr<accel::hal::plugin::BackendImpl>> CreatePendingBackend(
    const accel::hal::plugin::BackendOptions&) {
  const char* override_path = std::getenv(ACCEL_PENDING_ENV);
  std::string library = override_path != nullptr ? override_path : ACCEL_PENDING_LIBRARY;
  void* handle = dlopen(library.c_str(), RTLD_LAZY | RTLD_LOCAL);
  std::string reason;
  if (handle == nullptr) {
    const char* error = dlerror();
    reason = absl::StrCat("no driver: cannot load ", library, " (", error ? error : "unknown", ")");
  } else {
    dlclose(handle);
    reason = absl::StrCat("driver library ", library,
                          " is present, but this build's " ACCEL_PENDING_NAME
                          " backend does not drive devices yet");
  }
  return std::make_unique<PendingBackend>(std::move(reason));
}

}  // namespace

ACCEL_DEFINE_BACKEND(ACCEL_PENDING_NAME, CreatePendingBackend)
