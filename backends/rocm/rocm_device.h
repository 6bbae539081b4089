// One HIP device (an AMD or Hygon GPU) as a HAL device: its properties, read
// once when the backend opens, and the factory of its buffers, streams,
// events and modules.
#ifndef ACCEL_BACKENDS_ROCM_ROCM_DEVICE_H_
#define ACCEL_BACKENDS_ROCM_ROCM_DEVICE_H_

#include <memory>
#include <string>

#include "accel/hal/plugin/backend_interface.h"
#include "hip_api.h"

namespace accel::rocm {

class RocmDevice : public hal::plugin::DeviceImpl {
 public:
  // Reads the properties of HIP device `ordinal`.
  static absl::StatusOr<std::unique_ptr<RocmDevice>> Open(const HipApi& api, int ordinal);

  // Waits for all work queued on the device, on every stream. Used before a
  // release that HIP would otherwise perform under queued work. Restores the
  // calling thread's current device, like every call here.
  absl::Status SynchronizeAll() const;

  const HipApi& api() const { return api_; }
  int ordinal() const { return ordinal_; }
  // The base gfx name ("gfx90a"), without feature suffixes.
  const std::string& gfx() const { return gfx_; }

  AccelDeviceProperties Properties() override { return properties_; }
  absl::StatusOr<std::pair<uint64_t, uint64_t>> MemoryInfo() override;
  int32_t ImageScore(AccelImageFormat format, absl::string_view arch) override;
  absl::StatusOr<std::unique_ptr<hal::plugin::BufferImpl>> Allocate(uint64_t size) override;
  absl::StatusOr<std::unique_ptr<hal::plugin::StreamImpl>> CreateStream() override;
  absl::StatusOr<std::unique_ptr<hal::plugin::EventImpl>> CreateEvent() override;
  absl::StatusOr<std::unique_ptr<hal::plugin::ModuleImpl>> LoadModule(
      AccelImageFormat format, absl::string_view image) override;

 private:
  RocmDevice(const HipApi& api, int ordinal) : api_(api), ordinal_(ordinal), properties_{} {}
  absl::Status ReadProperties();

  const HipApi& api_;
  const int ordinal_;
  std::string gfx_;
  AccelDeviceProperties properties_;
};

// Makes a device HIP's current device on the calling thread for the length of
// one HAL call, and then puts back the device that was current before.
//
// HIP keeps the current device per thread and the HAL calls in from any
// thread, so every entry point that touches HIP opens one of these first. The
// application's own HIP code on the same thread must not find its device
// changed behind its back: unlike a CUDA context, a HIP thread always has a
// current device (0 until set), so the previous one is always restored.
class ScopedDevice {
 public:
  explicit ScopedDevice(const RocmDevice& device);
  ~ScopedDevice();
  ScopedDevice(const ScopedDevice&) = delete;
  ScopedDevice& operator=(const ScopedDevice&) = delete;

  bool ok() const { return status_.ok(); }
  // hipGetDevice's or hipSetDevice's error, with HIP's name and number.
  const absl::Status& status() const { return status_; }

 private:
  const HipApi& api_;
  int previous_ = 0;
  bool switched_ = false;
  absl::Status status_;
};

// "gfx90a" from "gfx90a:sramecc+:xnack-": the target without its features.
absl::string_view BaseGfxName(absl::string_view arch);

}  // namespace accel::rocm

#endif  // ACCEL_BACKENDS_ROCM_ROCM_DEVICE_H_
