#include "rocm_module.h"

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "hip_error.h"

namespace accel::rocm {
namespace {

constexpr unsigned char kElfMagic[4] = {0x7f, 'E', 'L', 'F'};
constexpr uint16_t kElfMachineAmdgpu = 224;  // EM_AMDGPU
constexpr absl::string_view kOffloadBundleMagic = "__CLANG_OFFLOAD_BUNDLE__";

// A clear error for bytes that are not a code object, before HIP sees them:
// HIP's answer to garbage ranges from an error code to a crash.
absl::Status CheckImage(absl::string_view image) {
  if (absl::StartsWith(image, kOffloadBundleMagic)) return absl::OkStatus();
  if (image.size() < 64 || std::memcmp(image.data(), kElfMagic, 4) != 0) {
    return absl::InvalidArgumentError("hsaco image is not an ELF file or clang offload bundle");
  }
  if (image[4] != 2 /* ELFCLASS64 */ || image[5] != 1 /* little-endian */) {
    return absl::InvalidArgumentError("hsaco image is not a 64-bit little-endian ELF file");
  }
  uint16_t machine = 0;
  std::memcpy(&machine, image.data() + 18, sizeof(machine));  // e_machine
  if (machine != kElfMachineAmdgpu) {
    return absl::InvalidArgumentError(
        absl::StrCat("hsaco image is for ELF machine ", machine, ", not AMDGPU (224)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<RocmModule>> RocmModule::Load(const RocmDevice& device,
                                                             absl::string_view image) {
  absl::Status status = CheckImage(image);
  if (!status.ok()) return status;
  const HipApi& api = device.api();
  status = device.Activate();
  if (!status.ok()) return status;
  std::string copy(image);
  hipModule_t module = nullptr;
  status = HipStatus(api, api.hipModuleLoadData(&module, copy.data()),
                     absl::StrCat("hipModuleLoadData (device ", device.gfx(), ")"));
  if (!status.ok()) return status;
  return std::unique_ptr<RocmModule>(new RocmModule(device, std::move(copy), module));
}

RocmModule::~RocmModule() {
  // Errors of queued work belong to the streams that run it, which report
  // them; unloading goes ahead once nothing runs.
  (void)device_.SynchronizeAll();
  (void)device_.api().hipModuleUnload(module_);  // fails only for an unknown handle
}

absl::StatusOr<hal::plugin::KernelImpl*> RocmModule::GetKernel(absl::string_view name) {
  absl::MutexLock lock(&mu_);
  if (auto it = kernels_.find(name); it != kernels_.end()) return it->second.get();
  const HipApi& api = device_.api();
  absl::Status status = device_.Activate();
  if (!status.ok()) return status;
  std::string key(name);
  hipFunction_t function = nullptr;
  hipError_t error = api.hipModuleGetFunction(&function, module_, key.c_str());
  if (error == hipErrorNotFound || error == hipErrorInvalidDeviceFunction) {
    // Some ROCm releases say "invalid device function" for a missing name.
    return absl::NotFoundError(absl::StrCat("no kernel '", name, "' in the hsaco module (",
                                            "hipModuleGetFunction: ", Describe(api, error), ")"));
  }
  status = HipStatus(api, error, absl::StrCat("hipModuleGetFunction(", name, ")"));
  if (!status.ok()) return status;
  auto kernel = std::make_unique<RocmKernel>(key, function);
  RocmKernel* raw = kernel.get();
  kernels_.emplace(std::move(key), std::move(kernel));
  return raw;
}

}  // namespace accel::rocm
