#include "host_memory.h"

#include <cstdlib>
#include <cstring>

namespace accel::host {

// Like a GPU allocator, hand out generously aligned memory.
constexpr size_t kAlignment = 256;

bool MemoryPool::Reserve(uint64_t bytes) {
  uint64_t used = used_.load();
  do {
    if (bytes > capacity_ - used) return false;
  } while (!used_.compare_exchange_weak(used, used + bytes));
  return true;
}

std::shared_ptr<HostMemory> HostMemory::Allocate(std::shared_ptr<MemoryPool> pool, uint64_t size) {
  if (!pool->Reserve(size)) return nullptr;
  uint64_t rounded = (size + kAlignment - 1) / kAlignment * kAlignment;
  void* data = std::aligned_alloc(kAlignment, rounded);
  if (data == nullptr) {
    pool->Release(size);
    return nullptr;
  }
  // Zero-filled: no tenant ever reads another's bytes.
  std::memset(data, 0, rounded);
  return std::shared_ptr<HostMemory>(
      new HostMemory(std::move(pool), static_cast<std::byte*>(data), size));
}

std::shared_ptr<HostMemory> HostMemory::Borrow(std::shared_ptr<const void> owner,
                                               absl::Span<std::byte> bytes) {
  auto memory = std::shared_ptr<HostMemory>(new HostMemory(nullptr, bytes.data(), bytes.size()));
  memory->owner_ = std::move(owner);
  return memory;
}

HostMemory::~HostMemory() {
  if (owner_ != nullptr) return;
  std::free(data_);
  pool_->Release(size_);
}

}  // namespace accel::host
