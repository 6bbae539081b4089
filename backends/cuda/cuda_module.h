// Modules: ptx, cubin and fatbin images loaded with cuModuleLoadData, and
// their kernels. CUDA images do not declare argument kinds, so kernels have
// no signature here (the module bundle supplies them); where the driver can
// tell the parameter layout (cuFuncGetParamInfo, CUDA 12.4+), launches are
// checked against it so a wrong argument list is an error, not a fault.
#ifndef ACCEL_BACKENDS_CUDA_CUDA_MODULE_H_
#define ACCEL_BACKENDS_CUDA_CUDA_MODULE_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "accel/hal/plugin/backend_interface.h"
#include "cuda_driver.h"

namespace accel::cuda {

class CudaDevice;

class CudaKernel : public hal::plugin::KernelImpl {
 public:
  // `params`: the parameter layout the driver reports, nullopt when it
  // cannot tell.
  CudaKernel(CudaDevice& device, std::string name, CUfunction function,
             std::optional<std::vector<AccelKernelParameter>> params)
      : device_(device), name_(std::move(name)), function_(function), params_(std::move(params)) {}

  const std::string& signature() const override { return kNoSignature; }
  const std::string& name() const { return name_; }
  CUfunction function() const { return function_; }
  // Each parameter's place; meaningful only when layout_known().
  const std::vector<AccelKernelParameter>& params() const { return *params_; }
  bool layout_known() const { return params_.has_value(); }
  absl::StatusOr<std::vector<AccelKernelParameter>> Parameters() const override;
  // cuFuncGetAttribute and the cuOccupancy* queries, on the kernel's device.
  absl::StatusOr<int64_t> Query(const AccelKernelQuery& query) override;

  // Raises the kernel's dynamic shared memory limit to `bytes` if needed:
  // CUDA caps it at 48 KiB unless the function opts in to more.
  absl::Status EnsureSharedMemory(const Driver& driver, uint64_t bytes);

 private:
  static const std::string kNoSignature;
  CudaDevice& device_;
  std::string name_;
  CUfunction function_;
  std::optional<std::vector<AccelKernelParameter>> params_;
  absl::Mutex mu_;
  uint64_t shared_limit_ ABSL_GUARDED_BY(mu_) = 48 * 1024;
};

class CudaModule : public hal::plugin::ModuleImpl {
 public:
  // INVALID_ARGUMENT for an image that is not a loadable module of `format`.
  static absl::StatusOr<std::unique_ptr<CudaModule>> Load(CudaDevice& device,
                                                          AccelImageFormat format,
                                                          absl::string_view image);
  // Unloads through the device's deferred releases: launches still queued
  // keep running code of this module.
  ~CudaModule() override;

  absl::StatusOr<hal::plugin::KernelImpl*> GetKernel(absl::string_view name) override;
  // A __device__ or __constant__ variable (cuModuleGetGlobal).
  absl::StatusOr<hal::plugin::ModuleGlobal> GetGlobal(absl::string_view name) override;

 private:
  CudaModule(CudaDevice& device, CUmodule module) : device_(device), module_(module) {}

  CudaDevice& device_;
  CUmodule module_;
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<CudaKernel>, std::less<>> kernels_ ABSL_GUARDED_BY(mu_);
};

}  // namespace accel::cuda

#endif  // ACCEL_BACKENDS_CUDA_CUDA_MODULE_H_
