// Device memory of a host virtual device: real, zero-filled host memory whose
// bytes count against the device's capacity until the last user lets go.
#ifndef ACCEL_BACKENDS_HOST_HOST_MEMORY_H_
#define ACCEL_BACKENDS_HOST_HOST_MEMORY_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/types/span.h"
#include "accel/hal/plugin/backend_interface.h"

namespace accel::host {

// Capacity accounting of one device.
class MemoryPool {
 public:
  explicit MemoryPool(uint64_t capacity) : capacity_(capacity) {}
  // False when fewer than `bytes` are free.
  bool Reserve(uint64_t bytes);
  void Release(uint64_t bytes) { used_.fetch_sub(bytes); }
  uint64_t used() const { return used_.load(); }
  uint64_t capacity() const { return capacity_; }

 private:
  const uint64_t capacity_;
  std::atomic<uint64_t> used_{0};
};

class HostMemory {
 public:
  // Reserves from `pool` and allocates; null when either fails.
  static std::shared_ptr<HostMemory> Allocate(std::shared_ptr<MemoryPool> pool, uint64_t size);
  // Memory that `owner` holds (a module's global), kept alive by it: not
  // counted against the device, and not freed here.
  static std::shared_ptr<HostMemory> Borrow(std::shared_ptr<const void> owner,
                                            absl::Span<std::byte> bytes);
  ~HostMemory();
  HostMemory(const HostMemory&) = delete;
  HostMemory& operator=(const HostMemory&) = delete;

  std::byte* data() const { return data_; }
  uint64_t size() const { return size_; }

 private:
  HostMemory(std::shared_ptr<MemoryPool> pool, std::byte* data, uint64_t size)
      : pool_(std::move(pool)), data_(data), size_(size) {}
  std::shared_ptr<MemoryPool> pool_;   // null when borrowed
  std::shared_ptr<const void> owner_;  // set when borrowed
  std::byte* data_;
  uint64_t size_;
};

// The plugin-visible buffer. Queued work holds the memory itself, so freeing
// the buffer while work is in flight is safe: the bytes go when the work ends.
class HostBuffer : public hal::plugin::BufferImpl {
 public:
  explicit HostBuffer(std::shared_ptr<HostMemory> memory) : memory_(std::move(memory)) {}
  const std::shared_ptr<HostMemory>& memory() const { return memory_; }
  // A host device's memory is the host's.
  absl::StatusOr<void*> MapHost() override { return memory_->data(); }
  // Host kernels take the host address.
  absl::StatusOr<uint64_t> DeviceAddress() override {
    return reinterpret_cast<uint64_t>(memory_->data());
  }

 private:
  std::shared_ptr<HostMemory> memory_;
};

}  // namespace accel::host

#endif  // ACCEL_BACKENDS_HOST_HOST_MEMORY_H_
