#include "rocm_module.h"

#include "absl/strings/str_cat.h"
#include "hip_error.h"
#include "hsaco_image.h"
#include "rocm_memory.h"

namespace accel::rocm {

absl::StatusOr<std::unique_ptr<RocmModule>> RocmModule::Load(const RocmDevice& device,
                                                             absl::string_view image) {
  // HIP takes no size and reads as far as the headers say: a truncated image
  // must never reach it.
  absl::Status status = CheckHsacoImage(image);
  if (!status.ok()) return status;
  const HipApi& api = device.api();
  ScopedDevice scoped(device);
  if (!scoped.ok()) return scoped.status();
  std::string copy(image);
  hipModule_t module = nullptr;
  status = HipStatus(api, api.hipModuleLoadData(&module, copy.data()),
                     absl::StrCat("hipModuleLoadData (device ", device.gfx(), ")"));
  if (!status.ok()) return status;
  return std::unique_ptr<RocmModule>(new RocmModule(device, std::move(copy), module));
}

RocmModule::~RocmModule() {
  ScopedDevice scoped(device_);
  // Errors of queued work belong to the streams that run it, which report
  // them; unloading goes ahead once nothing runs.
  (void)device_.SynchronizeAll();
  (void)device_.api().hipModuleUnload(module_);  // fails only for an unknown handle
}

absl::StatusOr<hal::plugin::KernelImpl*> RocmModule::GetKernel(absl::string_view name) {
  absl::MutexLock lock(&mu_);
  if (auto it = kernels_.find(name); it != kernels_.end()) return it->second.get();
  const HipApi& api = device_.api();
  ScopedDevice scoped(device_);
  if (!scoped.ok()) return scoped.status();
  std::string key(name);
  hipFunction_t function = nullptr;
  hipError_t error = api.hipModuleGetFunction(&function, module_, key.c_str());
  if (error == hipErrorNotFound || error == hipErrorInvalidDeviceFunction) {
    // Some ROCm releases say "invalid device function" for a missing name.
    return absl::NotFoundError(absl::StrCat("no kernel '", name, "' in the hsaco module (",
                                            "hipModuleGetFunction: ", Describe(api, error), ")"));
  }
  absl::Status status = HipStatus(api, error, absl::StrCat("hipModuleGetFunction(", name, ")"));
  if (!status.ok()) return status;
  auto kernel = std::make_unique<RocmKernel>(key, function);
  RocmKernel* raw = kernel.get();
  kernels_.emplace(std::move(key), std::move(kernel));
  return raw;
}

absl::StatusOr<hal::plugin::ModuleGlobal> RocmModule::GetGlobal(absl::string_view name) {
  const HipApi& api = device_.api();
  if (api.hipModuleGetGlobal == nullptr) {
    return absl::UnimplementedError("this HIP runtime does not export hipModuleGetGlobal");
  }
  ScopedDevice scoped(device_);
  if (!scoped.ok()) return scoped.status();
  const std::string key(name);
  void* pointer = nullptr;
  size_t bytes = 0;
  hipError_t error = api.hipModuleGetGlobal(&pointer, &bytes, module_, key.c_str());
  if (error == hipErrorNotFound) {
    return absl::NotFoundError(absl::StrCat("no global '", name, "' in the hsaco module (",
                                            "hipModuleGetGlobal: ", Describe(api, error), ")"));
  }
  absl::Status status = HipStatus(api, error, absl::StrCat("hipModuleGetGlobal(", name, ")"));
  if (!status.ok()) return status;
  return hal::plugin::ModuleGlobal{RocmBuffer::ModuleGlobal(device_, pointer), bytes};
}

}  // namespace accel::rocm
