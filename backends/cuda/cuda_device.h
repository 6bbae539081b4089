// One CUDA device, driven through its primary context: the context the CUDA
// runtime and most libraries share, so buffers and modules made here are
// usable by an application's own CUDA code on the same device.
#ifndef ACCEL_BACKENDS_CUDA_CUDA_DEVICE_H_
#define ACCEL_BACKENDS_CUDA_CUDA_DEVICE_H_

#include <memory>
#include <string>
#include <vector>

#include "accel/hal/plugin/backend_interface.h"
#include "cuda_driver.h"
#include "cuda_release.h"

namespace accel::cuda {

class CudaDevice : public hal::plugin::DeviceImpl {
 public:
  // Retains the primary context of device `ordinal`; `index` is its HAL index.
  static absl::StatusOr<std::unique_ptr<CudaDevice>> Create(const Driver& driver, int ordinal,
                                                            uint32_t index);
  ~CudaDevice() override;

  AccelDeviceProperties Properties() override { return properties_; }
  absl::Span<const AccelNativeAttribute> NativeAttributes() override { return attributes_; }
  absl::StatusOr<std::pair<uint64_t, uint64_t>> MemoryInfo() override;
  int32_t ImageScore(AccelImageFormat format, absl::string_view arch) override;
  absl::StatusOr<std::unique_ptr<hal::plugin::BufferImpl>> Allocate(uint64_t size) override;
  absl::StatusOr<std::unique_ptr<hal::plugin::StreamImpl>> CreateStream() override;
  absl::StatusOr<std::unique_ptr<hal::plugin::EventImpl>> CreateEvent() override;
  absl::StatusOr<std::unique_ptr<hal::plugin::ModuleImpl>> LoadModule(
      AccelImageFormat format, absl::string_view image) override;

  const Driver& driver() const { return driver_; }
  CUcontext context() const { return context_; }
  DeferredReleases& releases() { return releases_; }
  // "cuda:0", for messages.
  const std::string& id() const { return id_; }

 private:
  CudaDevice(const Driver& driver, CUdevice device, CUcontext context, uint32_t index);
  absl::Status Init();

  const Driver& driver_;
  CUdevice device_;
  CUcontext context_;
  std::string id_;
  int compute_capability_ = 0;  // major * 10 + minor
  AccelDeviceProperties properties_{};
  // Every attribute the driver answers, by CUdevice_attribute number.
  std::vector<AccelNativeAttribute> attributes_;
  // Zero-fills new allocations, then is synchronized: a stream of our own
  // rather than the legacy default stream, which does not order against the
  // non-blocking streams the HAL's streams are made of.
  CUstream fill_stream_ = nullptr;
  DeferredReleases releases_;
};

}  // namespace accel::cuda

#endif  // ACCEL_BACKENDS_CUDA_CUDA_DEVICE_H_
