#include "ze_module.h"

#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "spirv_image.h"
#include "ze_error.h"
#include "ze_memory.h"

namespace accel::levelzero {
namespace {

// The build log of a failed zeModuleCreate (always destroyed).
std::string TakeBuildLog(const ZeApi* api, ze_module_build_log_handle_t log) {
  if (log == nullptr) return "";
  std::string text;
  size_t size = 0;
  if (api->zeModuleBuildLogGetString(log, &size, nullptr) == ZE_RESULT_SUCCESS && size > 0) {
    text.resize(size);
    if (api->zeModuleBuildLogGetString(log, &size, text.data()) != ZE_RESULT_SUCCESS) {
      text = "(build log unavailable)";
    }
    while (!text.empty() && (text.back() == '\0' || text.back() == '\n')) text.pop_back();
  }
  api->zeModuleBuildLogDestroy(log);
  return text;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ZeModule>> ZeModule::Load(const ZeApi* api,
                                                         ze_context_handle_t context,
                                                         ze_device_handle_t device,
                                                         absl::string_view image) {
  absl::Status valid = CheckSpirv(image);
  if (!valid.ok()) return valid;
  ze_module_desc_t desc = {};
  desc.stype = ZE_STRUCTURE_TYPE_MODULE_DESC;
  desc.format = ZE_MODULE_FORMAT_IL_SPIRV;
  desc.inputSize = image.size();
  desc.pInputModule = reinterpret_cast<const uint8_t*>(image.data());
  desc.pBuildFlags = "";
  ze_module_handle_t module = nullptr;
  ze_module_build_log_handle_t log = nullptr;
  ze_result_t result = api->zeModuleCreate(context, device, &desc, &module, &log);
  std::string build_log = TakeBuildLog(api, log);
  if (result != ZE_RESULT_SUCCESS) {
    absl::Status status = ZeStatus(
        "zeModuleCreate", result, build_log.empty() ? "" : absl::StrCat("build log:\n", build_log));
    // A module that does not build is a bad image whatever the driver calls
    // it; resource and device failures keep their own codes.
    if (status.code() != absl::StatusCode::kResourceExhausted &&
        status.code() != absl::StatusCode::kUnavailable) {
      return absl::InvalidArgumentError(status.message());
    }
    return status;
  }
  return std::unique_ptr<ZeModule>(new ZeModule(api, std::make_shared<ZeModuleCore>(api, module)));
}

absl::StatusOr<hal::plugin::KernelImpl*> ZeModule::GetKernel(absl::string_view name) {
  if (name.empty()) return absl::NotFoundError("kernel name is empty");
  absl::MutexLock lock(&mu_);
  if (auto it = kernels_.find(name); it != kernels_.end()) return it->second.get();
  std::string kernel_name(name);
  ze_kernel_desc_t desc = {};
  desc.stype = ZE_STRUCTURE_TYPE_KERNEL_DESC;
  desc.pKernelName = kernel_name.c_str();
  ze_kernel_handle_t kernel = nullptr;
  ze_result_t result = api_->zeKernelCreate(core_->handle(), &desc, &kernel);
  if (result != ZE_RESULT_SUCCESS) {
    return ZeStatus("zeKernelCreate", result, absl::StrCat("kernel '", kernel_name, "'"));
  }
  ze_kernel_properties_t properties = {};
  properties.stype = ZE_STRUCTURE_TYPE_KERNEL_PROPERTIES;
  result = api_->zeKernelGetProperties(kernel, &properties);
  if (result != ZE_RESULT_SUCCESS) {
    api_->zeKernelDestroy(kernel);
    return ZeStatus("zeKernelGetProperties", result, absl::StrCat("kernel '", kernel_name, "'"));
  }
  // No zeKernelSetIndirectAccess: the kernels reach memory only through the
  // buffer arguments the launch passes, never through pointers stored in
  // memory, which is exactly the case Level Zero tracks without it.
  auto core =
      std::make_shared<ZeKernelCore>(api_, core_, kernel, kernel_name, properties.numKernelArgs);
  auto it = kernels_.emplace(kernel_name, std::make_unique<ZeKernel>(std::move(core))).first;
  return it->second.get();
}

absl::StatusOr<hal::plugin::ModuleGlobal> ZeModule::GetGlobal(absl::string_view name) {
  if (api_->zeModuleGetGlobalPointer == nullptr) {
    return absl::UnimplementedError("this Level Zero loader has no zeModuleGetGlobalPointer");
  }
  if (name.empty()) return absl::NotFoundError("global name is empty");
  const std::string key(name);
  size_t size = 0;
  void* pointer = nullptr;
  ze_result_t result =
      api_->zeModuleGetGlobalPointer(core_->handle(), key.c_str(), &size, &pointer);
  if (result == ZE_RESULT_ERROR_INVALID_GLOBAL_NAME) {
    return absl::NotFoundError(absl::StrCat("the module has no global '", key, "'"));
  }
  if (result != ZE_RESULT_SUCCESS) {
    return ZeStatus("zeModuleGetGlobalPointer", result, absl::StrCat("global '", key, "'"));
  }
  // Queued commands hold the allocation, and through it the module.
  return hal::plugin::ModuleGlobal{
      std::make_unique<ZeBuffer>(std::make_shared<ZeAllocation>(pointer, size, core_)), size};
}

}  // namespace accel::levelzero
