// Device memory: one cuMemAlloc allocation per HAL buffer, zero-filled by the
// device before it is handed out. Freeing goes through the device's deferred
// releases, so a buffer freed while queued work still uses it stays valid
// until that work is done (see cuda_release.h).
#ifndef ACCEL_BACKENDS_CUDA_CUDA_MEMORY_H_
#define ACCEL_BACKENDS_CUDA_CUDA_MEMORY_H_

#include "accel/hal/plugin/backend_interface.h"
#include "cuda_driver.h"

namespace accel::cuda {

class CudaDevice;

class CudaBuffer : public hal::plugin::BufferImpl {
 public:
  // An allocation of its own (freed with the buffer), or a module's global
  // (memory the module frees).
  enum class Ownership { kAllocation, kModuleGlobal };
  CudaBuffer(CudaDevice& device, CUdeviceptr ptr, uint64_t size,
             Ownership ownership = Ownership::kAllocation)
      : device_(device), ptr_(ptr), size_(size), ownership_(ownership) {}
  ~CudaBuffer() override;
  CudaBuffer(const CudaBuffer&) = delete;
  CudaBuffer& operator=(const CudaBuffer&) = delete;

  CUdeviceptr ptr() const { return ptr_; }
  uint64_t size() const { return size_; }
  CudaDevice& device() const { return device_; }
  absl::StatusOr<uint64_t> DeviceAddress() override { return ptr_; }

 private:
  CudaDevice& device_;
  CUdeviceptr ptr_;
  uint64_t size_;
  Ownership ownership_;
};

}  // namespace accel::cuda

#endif  // ACCEL_BACKENDS_CUDA_CUDA_MEMORY_H_
