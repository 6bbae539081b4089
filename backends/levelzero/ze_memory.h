// Device memory of a Level Zero device. An allocation is shared by the
// plugin buffer and by every queued command that touches it, so
// buffer_free while work is in flight only drops the buffer's reference: the
// zeMemFree happens when the last command using the memory has completed
// (the stream releases its references as it retires commands).
#ifndef ACCEL_BACKENDS_LEVELZERO_ZE_MEMORY_H_
#define ACCEL_BACKENDS_LEVELZERO_ZE_MEMORY_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "accel/hal/plugin/backend_interface.h"
#include "ze_api_table.h"

namespace accel::levelzero {

class ZeAllocation {
 public:
  // Takes ownership of `ptr`, whose `size` bytes are already counted in
  // `*in_use`; both are released by the destructor.
  ZeAllocation(const ZeApi* api, ze_context_handle_t context, void* ptr, uint64_t size,
               std::shared_ptr<std::atomic<uint64_t>> in_use)
      : api_(api), context_(context), ptr_(ptr), size_(size), in_use_(std::move(in_use)) {}
  // Memory that `owner` holds (a module's global), kept alive by it: not
  // counted, and not freed here.
  ZeAllocation(void* ptr, uint64_t size, std::shared_ptr<const void> owner)
      : api_(nullptr), context_(nullptr), ptr_(ptr), size_(size), owner_(std::move(owner)) {}
  ~ZeAllocation();
  ZeAllocation(const ZeAllocation&) = delete;
  ZeAllocation& operator=(const ZeAllocation&) = delete;

  void* ptr() const { return ptr_; }
  // The device address of byte `offset`.
  void* at(uint64_t offset) const { return static_cast<char*>(ptr_) + offset; }
  uint64_t size() const { return size_; }

 private:
  const ZeApi* api_;
  ze_context_handle_t context_;
  void* ptr_;
  uint64_t size_;
  std::shared_ptr<std::atomic<uint64_t>> in_use_;
  std::shared_ptr<const void> owner_;  // set when borrowed
};

class ZeBuffer : public hal::plugin::BufferImpl {
 public:
  explicit ZeBuffer(std::shared_ptr<ZeAllocation> memory) : memory_(std::move(memory)) {}
  const std::shared_ptr<ZeAllocation>& memory() const { return memory_; }
  // A USM device pointer, which the device's kernels take as it is.
  absl::StatusOr<uint64_t> DeviceAddress() override {
    return reinterpret_cast<uint64_t>(memory_->ptr());
  }

 private:
  std::shared_ptr<ZeAllocation> memory_;
};

inline const std::shared_ptr<ZeAllocation>& MemoryOf(hal::plugin::BufferImpl& buffer) {
  return static_cast<ZeBuffer&>(buffer).memory();
}

}  // namespace accel::levelzero

#endif  // ACCEL_BACKENDS_LEVELZERO_ZE_MEMORY_H_
