// hsaco modules: AMDGPU code objects loaded with hipModuleLoadData, and their
// kernels. Code objects carry no accelpool signatures, so kernels report ""
// and the HAL takes them from the bundle.
#ifndef ACCEL_BACKENDS_ROCM_ROCM_MODULE_H_
#define ACCEL_BACKENDS_ROCM_ROCM_MODULE_H_

#include <map>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "accel/hal/plugin/backend_interface.h"
#include "rocm_device.h"

namespace accel::rocm {

class RocmKernel : public hal::plugin::KernelImpl {
 public:
  RocmKernel(std::string name, hipFunction_t function)
      : name_(std::move(name)), function_(function) {}
  const std::string& signature() const override { return signature_; }
  const std::string& name() const { return name_; }
  hipFunction_t function() const { return function_; }

 private:
  std::string name_;
  hipFunction_t function_;
  std::string signature_;  // always "": the image does not say
};

class RocmModule : public hal::plugin::ModuleImpl {
 public:
  // INVALID_ARGUMENT for bytes that are not an AMDGPU code object (or clang
  // offload bundle) or that HIP cannot load on this device.
  static absl::StatusOr<std::unique_ptr<RocmModule>> Load(const RocmDevice& device,
                                                          absl::string_view image);
  // Launches queued on any stream may still run this module's code, and
  // hipModuleUnload does not wait for them: the device is synchronized first.
  ~RocmModule() override;
  RocmModule(const RocmModule&) = delete;
  RocmModule& operator=(const RocmModule&) = delete;

  absl::StatusOr<hal::plugin::KernelImpl*> GetKernel(absl::string_view name) override;
  // A __device__ variable (hipModuleGetGlobal).
  absl::StatusOr<hal::plugin::ModuleGlobal> GetGlobal(absl::string_view name) override;

 private:
  RocmModule(const RocmDevice& device, std::string image, hipModule_t module)
      : device_(device), image_(std::move(image)), module_(module) {}
  const RocmDevice& device_;
  // Our copy of the code object, alive as long as the module: the HAL's
  // bytes may go once module_load returns, and HIP may refer to them later.
  std::string image_;
  hipModule_t module_;
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<RocmKernel>, std::less<>> kernels_ ABSL_GUARDED_BY(mu_);
};

}  // namespace accel::rocm

#endif  // ACCEL_BACKENDS_ROCM_ROCM_MODULE_H_
