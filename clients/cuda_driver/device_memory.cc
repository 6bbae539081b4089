#include "clients/cuda_driver/device_memory.h"

#include <sys/mman.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace accel::cuda_driver {
namespace {

// cudaMalloc's alignment.
constexpr uint64_t kAlignment = 512;

// Reserves the largest of a few sizes the address-space limit allows.
std::pair<void*, uint64_t> Reserve() {
  for (uint64_t bytes : {uint64_t{1} << 40, uint64_t{1} << 36, uint64_t{1} << 32}) {
    void* at = mmap(nullptr, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (at != MAP_FAILED) return {at, bytes};
  }
  return {nullptr, 0};
}

}  // namespace

DeviceMemory::DeviceMemory() : DeviceMemory(Reserve()) {}

DeviceMemory::DeviceMemory(std::pair<void*, uint64_t> reserved)
    : reserved_(reserved.first),
      reserved_bytes_(reserved.second),
      next_(reinterpret_cast<uint64_t>(reserved.first)) {}

DeviceMemory::~DeviceMemory() {
  if (reserved_ != nullptr) munmap(reserved_, reserved_bytes_);
}

absl::StatusOr<uint64_t> DeviceMemory::Add(hal::Buffer buffer, int device) {
  const uint64_t size = buffer.size();
  const uint64_t span = (std::max<uint64_t>(size, 1) + kAlignment - 1) / kAlignment * kAlignment;
  const uint64_t begin = reinterpret_cast<uint64_t>(reserved_);
  const uint64_t end = begin + reserved_bytes_;
  absl::MutexLock lock(&mu_);
  uint64_t at = next_;
  if (end - at < span) {
    // Past the end: the first gap between live allocations that fits.
    at = begin;
    for (const auto& [base, entry] : live_) {
      if (base - at >= span) break;
      at = base + (entry.size + kAlignment - 1) / kAlignment * kAlignment;
    }
    if (end - at < span) {
      return absl::ResourceExhaustedError(
          absl::StrCat("no device address range of ", size, " bytes is left"));
    }
  }
  live_.emplace(at, Entry{std::move(buffer), size, device});
  next_ = std::max(next_, at + span);
  return at;
}

absl::StatusOr<hal::Buffer> DeviceMemory::Remove(uint64_t address) {
  absl::MutexLock lock(&mu_);
  auto it = live_.find(address);
  if (it == live_.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("0x", absl::Hex(address), " is not the start of a live allocation"));
  }
  hal::Buffer buffer = std::move(it->second.buffer);
  live_.erase(it);
  return buffer;
}

std::optional<DeviceMemory::Allocation> DeviceMemory::Containing(uint64_t address) const {
  absl::MutexLock lock(&mu_);
  auto it = live_.upper_bound(address);
  if (it == live_.begin()) return std::nullopt;
  --it;
  if (address - it->first >= std::max<uint64_t>(it->second.size, 1)) return std::nullopt;
  return Allocation{it->first, it->second.size, it->second.device};
}

absl::StatusOr<DeviceMemory::Range> DeviceMemory::Find(uint64_t address, uint64_t size) const {
  absl::MutexLock lock(&mu_);
  auto it = live_.upper_bound(address);
  if (it != live_.begin()) {
    --it;
    const uint64_t offset = address - it->first;
    if (offset <= it->second.size && size <= it->second.size - offset) {
      absl::StatusOr<hal::BufferView> view = it->second.buffer.View(offset, size);
      if (!view.ok()) return view.status();
      return Range{*std::move(view), it->second.device};
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(size, " bytes at 0x", absl::Hex(address),
                                                 " are not inside one live allocation"));
}

bool DeviceMemory::IsDeviceAddress(uint64_t address) const {
  const uint64_t begin = reinterpret_cast<uint64_t>(reserved_);
  return reserved_ != nullptr && address >= begin && address - begin < reserved_bytes_;
}

}  // namespace accel::cuda_driver
