// SPIR-V modules and their kernels. A launch keeps the kernel's core (and
// through it the module) alive until the command completes, so
// module_destroy with launches in flight is safe: zeKernelDestroy and
// zeModuleDestroy run after the last such command.
//
// Dynamic shared memory: OpenCL/SPIR-V kernels cannot declare an unsized
// __local array, so a kernel that uses the HAL's shared_memory_bytes declares
// one extra, trailing `__local` pointer argument that the HAL does not pass.
// The rule: when the kernel has exactly one argument more than the launch
// supplies, that last argument is local memory and the backend sets it with
// zeKernelSetArgumentValue(index, shared_memory_bytes, nullptr). Any other
// count mismatch is INVALID_ARGUMENT.
#ifndef ACCEL_BACKENDS_LEVELZERO_ZE_MODULE_H_
#define ACCEL_BACKENDS_LEVELZERO_ZE_MODULE_H_

#include <map>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "accel/hal/plugin/backend_interface.h"
#include "ze_api_table.h"

namespace accel::levelzero {

// Owns a ze_module_handle_t.
class ZeModuleCore {
 public:
  ZeModuleCore(const ZeApi* api, ze_module_handle_t module) : api_(api), module_(module) {}
  ~ZeModuleCore() { api_->zeModuleDestroy(module_); }
  ZeModuleCore(const ZeModuleCore&) = delete;
  ZeModuleCore& operator=(const ZeModuleCore&) = delete;
  ze_module_handle_t handle() const { return module_; }

 private:
  const ZeApi* api_;
  ze_module_handle_t module_;
};

// Owns a ze_kernel_handle_t. Level Zero kernels carry their arguments and
// group size as state that a launch reads when it is appended, so setting
// them and appending happen under `mu` (two streams may launch one kernel).
class ZeKernelCore {
 public:
  ZeKernelCore(const ZeApi* api, std::shared_ptr<ZeModuleCore> module, ze_kernel_handle_t kernel,
               std::string name, uint32_t num_args)
      : api_(api),
        module_(std::move(module)),
        kernel_(kernel),
        name_(std::move(name)),
        num_args_(num_args) {}
  ~ZeKernelCore() { api_->zeKernelDestroy(kernel_); }  // before the module it came from
  ZeKernelCore(const ZeKernelCore&) = delete;
  ZeKernelCore& operator=(const ZeKernelCore&) = delete;

  ze_kernel_handle_t handle() const { return kernel_; }
  const std::string& name() const { return name_; }
  uint32_t num_args() const { return num_args_; }
  absl::Mutex& mu() { return mu_; }

 private:
  const ZeApi* api_;
  std::shared_ptr<ZeModuleCore> module_;
  ze_kernel_handle_t kernel_;
  std::string name_;
  uint32_t num_args_;
  absl::Mutex mu_;
};

class ZeKernel : public hal::plugin::KernelImpl {
 public:
  explicit ZeKernel(std::shared_ptr<ZeKernelCore> core) : core_(std::move(core)) {}
  // SPIR-V carries no accelpool signature; the bundle supplies it.
  const std::string& signature() const override { return signature_; }
  const std::shared_ptr<ZeKernelCore>& core() const { return core_; }

 private:
  std::shared_ptr<ZeKernelCore> core_;
  std::string signature_;
};

class ZeModule : public hal::plugin::ModuleImpl {
 public:
  // INVALID_ARGUMENT (with the driver's build log) for an image that is not
  // SPIR-V or does not build for the device.
  static absl::StatusOr<std::unique_ptr<ZeModule>> Load(const ZeApi* api,
                                                        ze_context_handle_t context,
                                                        ze_device_handle_t device,
                                                        absl::string_view image);
  absl::StatusOr<hal::plugin::KernelImpl*> GetKernel(absl::string_view name) override;
  // A program-scope global variable (zeModuleGetGlobalPointer).
  absl::StatusOr<hal::plugin::ModuleGlobal> GetGlobal(absl::string_view name) override;

 private:
  ZeModule(const ZeApi* api, std::shared_ptr<ZeModuleCore> core)
      : api_(api), core_(std::move(core)) {}
  const ZeApi* api_;
  std::shared_ptr<ZeModuleCore> core_;
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<ZeKernel>, std::less<>> kernels_ ABSL_GUARDED_BY(mu_);
};

}  // namespace accel::levelzero

#endif  // ACCEL_BACKENDS_LEVELZERO_ZE_MODULE_H_
