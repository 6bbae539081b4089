// The Intel Level Zero backend: every GPU that the Level Zero loader reports,
// driven through a dlopen'd libze_loader.so.1 (ACCEL_LEVEL_ZERO_LIBRARY
// overrides the path). Kernels are SPIR-V images, built for the device by
// the driver when a module is loaded.
//
// Opening never fails for a missing or broken runtime: the backend reports
// no devices and one of these distinct reasons instead:
//   "no driver: cannot load <library> (<dlerror>)"     loader absent
//   "no driver: <library> is not a usable Level Zero loader (missing ...)"
//   "init failed: zeInit returned <NAME> (<hex>)"      loader without a GPU driver
//   "init failed: <call>: <NAME> (<hex>)"              enumeration failed
//   "driver present but no device"                     drivers, but no GPU
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "accel/hal/plugin/backend_interface.h"
#include "ze_api_table.h"
#include "ze_device.h"
#include "ze_error.h"

namespace accel::levelzero {
namespace {

class LevelZeroBackend : public hal::plugin::BackendImpl {
 public:
  explicit LevelZeroBackend(const ZeApi* api) : api_(api) {}
  ~LevelZeroBackend() override {
    devices_.clear();  // their objects live in the contexts
    for (ze_context_handle_t context : contexts_) api_->zeContextDestroy(context);
  }

  // Enumerates drivers and their devices; on failure says why in reason_.
  void Open();
  void set_reason(std::string reason) { reason_ = std::move(reason); }

  const std::string& unavailable_reason() const override { return reason_; }
  uint32_t device_count() const override { return static_cast<uint32_t>(devices_.size()); }
  hal::plugin::DeviceImpl& device(uint32_t index) override { return *devices_[index]; }

 private:
  absl::Status Enumerate();

  const ZeApi* api_;
  std::vector<ze_context_handle_t> contexts_;
  std::vector<std::unique_ptr<ZeDevice>> devices_;
  std::string reason_;
};

void LevelZeroBackend::Open() {
  // GPU_ONLY: the HAL's host backend already covers CPUs, and a Level Zero
  // CPU driver would show up as a second, slower copy of them.
  ze_result_t result = api_->zeInit(ZE_INIT_FLAG_GPU_ONLY);
  if (result != ZE_RESULT_SUCCESS) {
    reason_ = absl::StrCat("init failed: zeInit returned ", ZeResultString(result));
    return;
  }
  absl::Status enumerated = Enumerate();
  if (!enumerated.ok()) {
    devices_.clear();
    reason_ = absl::StrCat("init failed: ", enumerated.message());
    return;
  }
  if (devices_.empty()) reason_ = "driver present but no device";
}

absl::Status LevelZeroBackend::Enumerate() {
  uint32_t driver_count = 0;
  ACCEL_ZE_RETURN_IF_ERROR("zeDriverGet", api_->zeDriverGet(&driver_count, nullptr));
  std::vector<ze_driver_handle_t> drivers(driver_count);
  if (driver_count > 0) {
    ACCEL_ZE_RETURN_IF_ERROR("zeDriverGet", api_->zeDriverGet(&driver_count, drivers.data()));
  }
  for (uint32_t d = 0; d < driver_count; ++d) {
    uint32_t device_count = 0;
    ACCEL_ZE_RETURN_IF_ERROR("zeDeviceGet", api_->zeDeviceGet(drivers[d], &device_count, nullptr));
    if (device_count == 0) continue;
    std::vector<ze_device_handle_t> handles(device_count);
    ACCEL_ZE_RETURN_IF_ERROR("zeDeviceGet",
                             api_->zeDeviceGet(drivers[d], &device_count, handles.data()));
    // One context per driver: memory, events and modules of all its devices
    // live in it (the backend never shares memory across drivers).
    ze_context_desc_t context_desc = {};
    context_desc.stype = ZE_STRUCTURE_TYPE_CONTEXT_DESC;
    ze_context_handle_t context = nullptr;
    ACCEL_ZE_RETURN_IF_ERROR("zeContextCreate",
                             api_->zeContextCreate(drivers[d], &context_desc, &context));
    contexts_.push_back(context);
    for (uint32_t i = 0; i < device_count; ++i) {
      absl::StatusOr<std::unique_ptr<ZeDevice>> device =
          ZeDevice::Create(api_, context, handles[i], static_cast<uint32_t>(devices_.size()));
      if (!device.ok()) return device.status();
      devices_.push_back(*std::move(device));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<hal::plugin::BackendImpl>> CreateLevelZeroBackend(
    const hal::plugin::BackendOptions&) {
  ZeLibrary library = LoadZeLibrary();
  auto backend = std::make_unique<LevelZeroBackend>(library.api);
  if (library.api == nullptr) {
    backend->set_reason(library.failure);
    return backend;
  }
  backend->Open();
  return backend;
}

}  // namespace
}  // namespace accel::levelzero

ACCEL_DEFINE_BACKEND("levelzero", accel::levelzero::CreateLevelZeroBackend)
