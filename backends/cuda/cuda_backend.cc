// The NVIDIA CUDA backend, over the CUDA driver API loaded with dlopen.
//
// Environment:
//   ACCEL_CUDA_LIBRARY  the driver library to load instead of libcuda.so.1
//                       (e.g. a CUDA-compatible stack shipping its own)
//   CUDA_VISIBLE_DEVICES is honoured by the driver itself.
//
// Without a usable driver the backend still opens, with no devices and a
// reason that says which step failed: "no driver: ...", "unsupported driver:
// ...", "init failed: ..." or "driver present but no device".
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "accel/hal/plugin/backend_interface.h"
#include "cuda_device.h"
#include "cuda_driver.h"

namespace accel::cuda {
namespace {

class CudaBackend : public hal::plugin::BackendImpl {
 public:
  explicit CudaBackend(std::string reason) : reason_(std::move(reason)) {}
  CudaBackend(std::unique_ptr<Driver> driver, int device_count) : driver_(std::move(driver)) {
    std::string first_error;
    for (int ordinal = 0; ordinal < device_count; ++ordinal) {
      auto index = static_cast<uint32_t>(devices_.size());
      absl::StatusOr<std::unique_ptr<CudaDevice>> device =
          CudaDevice::Create(*driver_, ordinal, index);
      if (device.ok()) {
        devices_.push_back(std::move(*device));
      } else if (first_error.empty()) {
        // One broken device must not hide the healthy ones; it is reported
        // only when it leaves the backend without any.
        first_error = absl::StrCat("device ", ordinal, ": ", device.status().message());
      }
    }
    if (devices_.empty()) reason_ = absl::StrCat("init failed: ", first_error);
  }
  ~CudaBackend() override {
    devices_.clear();  // before the driver table they call through
  }

  const std::string& unavailable_reason() const override { return reason_; }
  uint32_t device_count() const override { return static_cast<uint32_t>(devices_.size()); }
  hal::plugin::DeviceImpl& device(uint32_t index) override { return *devices_[index]; }

 private:
  std::unique_ptr<Driver> driver_;
  std::vector<std::unique_ptr<CudaDevice>> devices_;
  std::string reason_;
};

absl::StatusOr<std::unique_ptr<hal::plugin::BackendImpl>> CreateCudaBackend(
    const hal::plugin::BackendOptions& /*options*/) {
  DriverLoadResult loaded = LoadDriver();
  if (loaded.driver == nullptr) {
    return std::make_unique<CudaBackend>(std::move(loaded.unavailable_reason));
  }
  return std::make_unique<CudaBackend>(std::move(loaded.driver), loaded.device_count);
}

}  // namespace
}  // namespace accel::cuda

ACCEL_DEFINE_BACKEND("cuda", accel::cuda::CreateCudaBackend)
