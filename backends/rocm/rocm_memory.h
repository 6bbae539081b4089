// Device memory of a HIP device: one hipMalloc allocation, zero-filled when
// made, freed only when no queued work can still touch it.
#ifndef ACCEL_BACKENDS_ROCM_ROCM_MEMORY_H_
#define ACCEL_BACKENDS_ROCM_ROCM_MEMORY_H_

#include <cstdint>
#include <memory>

#include "accel/hal/plugin/backend_interface.h"
#include "rocm_device.h"

namespace accel::rocm {

class RocmBuffer : public hal::plugin::BufferImpl {
 public:
  // RESOURCE_EXHAUSTED when the device is out of memory.
  static absl::StatusOr<std::unique_ptr<RocmBuffer>> Allocate(const RocmDevice& device,
                                                              uint64_t size);
  // A module's global at `pointer`: memory the module frees, not this buffer.
  static std::unique_ptr<RocmBuffer> ModuleGlobal(const RocmDevice& device, void* pointer);
  // The HAL may free a buffer that queued work still uses. hipFree only waits
  // for the null stream, not for our non-blocking streams, so the device is
  // synchronized first.
  ~RocmBuffer() override;
  RocmBuffer(const RocmBuffer&) = delete;
  RocmBuffer& operator=(const RocmBuffer&) = delete;

  // The device address `offset` bytes in.
  hipDeviceptr_t at(uint64_t offset) const { return static_cast<char*>(pointer_) + offset; }
  absl::StatusOr<uint64_t> DeviceAddress() override { return reinterpret_cast<uint64_t>(pointer_); }

 private:
  RocmBuffer(const RocmDevice& device, void* pointer, bool owned)
      : device_(device), pointer_(pointer), owned_(owned) {}
  const RocmDevice& device_;
  void* pointer_;
  bool owned_;
};

}  // namespace accel::rocm

#endif  // ACCEL_BACKENDS_ROCM_ROCM_MEMORY_H_
