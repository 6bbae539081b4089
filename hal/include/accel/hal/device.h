// A device of some backend: allocation, streams, events, modules, and
// synchronous convenience copies.
#ifndef ACCEL_HAL_DEVICE_H_
#define ACCEL_HAL_DEVICE_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "accel/hal/buffer.h"
#include "accel/hal/event.h"
#include "accel/hal/module.h"
#include "accel/hal/module_bundle.h"
#include "accel/hal/stream.h"
#include "accel/hal/types.h"

namespace accel::hal {

namespace internal {
struct DeviceState;
}  // namespace internal

class Device {
 public:
  Device() = default;

  bool valid() const { return state_ != nullptr; }
  const DeviceProperties& properties() const;
  const std::string& id() const { return properties().id; }
  absl::StatusOr<MemoryInfo> GetMemoryInfo() const;

  // RESOURCE_EXHAUSTED when the device lacks the memory. Memory is zeroed.
  absl::StatusOr<Buffer> Allocate(uint64_t size) const;
  absl::StatusOr<Stream> CreateStream() const;
  absl::StatusOr<Event> CreateEvent() const;

  // INVALID_ARGUMENT for a format this device cannot run or a bad image.
  absl::StatusOr<Module> LoadModule(ImageFormat format, absl::string_view image) const;
  // Loads the bundle's best image for this device; NOT_FOUND when none fits.
  absl::StatusOr<Module> LoadModule(const ModuleBundle& bundle) const;
  // True when some image of the bundle runs here.
  bool CanRun(const ModuleBundle& bundle) const;
  // How well an image of `format` built for `arch` ("sm_90", "" for any)
  // runs here: < 0 not at all, larger is better.
  int32_t ImageScore(ImageFormat format, absl::string_view arch) const;

  // Synchronous operations: they return when the work is done. They are not
  // ordered against other streams' queued work: synchronize those first.
  absl::Status CopyToDevice(absl::Span<const std::byte> src, const BufferView& dst) const;
  absl::Status CopyToHost(const BufferView& src, absl::Span<std::byte> dst) const;
  absl::Status Copy(const BufferView& src, const BufferView& dst) const;
  absl::Status Fill(const BufferView& dst, const void* pattern, size_t pattern_size) const;

  friend bool operator==(const Device& a, const Device& b) { return a.state_ == b.state_; }
  friend bool operator!=(const Device& a, const Device& b) { return !(a == b); }

  const std::shared_ptr<internal::DeviceState>& state() const { return state_; }
  explicit Device(std::shared_ptr<internal::DeviceState> state) : state_(std::move(state)) {}

 private:
  std::shared_ptr<internal::DeviceState> state_;
};

}  // namespace accel::hal

#endif  // ACCEL_HAL_DEVICE_H_
