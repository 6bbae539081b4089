#include "clients/cuda_driver/device_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace accel::cuda_driver {
namespace {

uint64_t PageSize() {
  static const uint64_t size = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  return size;
}

// The pages [begin, end) reserved with no access, only where nothing is
// mapped yet.
bool MapNoAccess(uint64_t begin, uint64_t end) {
  void* wanted = reinterpret_cast<void*>(begin);
  void* at = mmap(wanted, end - begin, PROT_NONE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
  if (at == MAP_FAILED) return false;
  if (at != wanted) {  // a kernel older than MAP_FIXED_NOREPLACE took it as a hint
    munmap(at, end - begin);
    return false;
  }
  return true;
}

}  // namespace

DeviceMemory::~DeviceMemory() {
  absl::MutexLock lock(&mu_);
  for (const auto& [begin, end] : reserved_) {
    munmap(reinterpret_cast<void*>(begin), end - begin);
  }
}

bool DeviceMemory::ReserveLocked(uint64_t begin, uint64_t end) {
  // The gaps between the ranges reserved already, each mapped in turn; all
  // undone if one cannot be.
  std::vector<std::pair<uint64_t, uint64_t>> gaps;
  uint64_t at = begin;
  auto it = reserved_.upper_bound(begin);
  if (it != reserved_.begin() && std::prev(it)->second > begin) at = std::prev(it)->second;
  for (; at < end; ++it) {
    const uint64_t next = it != reserved_.end() ? std::min(it->first, end) : end;
    if (next > at) gaps.emplace_back(at, next);
    if (it == reserved_.end()) break;
    at = std::max(at, it->second);
  }
  for (size_t i = 0; i < gaps.size(); ++i) {
    if (!MapNoAccess(gaps[i].first, gaps[i].second)) {
      for (size_t j = 0; j < i; ++j) {
        munmap(reinterpret_cast<void*>(gaps[j].first), gaps[j].second - gaps[j].first);
      }
      return false;
    }
  }
  // Merged into one range with every reserved range it touches.
  uint64_t merged_begin = begin, merged_end = end;
  it = reserved_.upper_bound(begin);
  if (it != reserved_.begin() && std::prev(it)->second >= begin) --it;
  while (it != reserved_.end() && it->first <= end) {
    merged_begin = std::min(merged_begin, it->first);
    merged_end = std::max(merged_end, it->second);
    it = reserved_.erase(it);
  }
  reserved_.emplace(merged_begin, merged_end);
  return true;
}

absl::Status DeviceMemory::Add(const hal::Buffer& buffer, uint64_t at, int device, Kind kind) {
  const uint64_t size = buffer.size();
  if (at == 0 || size > ~uint64_t{0} - at - PageSize()) {
    return absl::InternalError(absl::StrCat("the node gave the impossible device address 0x",
                                            absl::Hex(at), " for ", size, " bytes"));
  }
  absl::MutexLock lock(&mu_);
  // Another device's live allocation there: both cannot be the program's.
  auto next = live_.lower_bound(at);
  if ((next != live_.end() && next->first < at + size) ||
      (next != live_.begin() && std::prev(next)->first + std::prev(next)->second.size > at)) {
    return absl::AlreadyExistsError(absl::StrCat("device address 0x", absl::Hex(at),
                                                 " is taken by another device's allocation"));
  }
  const uint64_t page = PageSize();
  if (!ReserveLocked(at / page * page, (at + size + page - 1) / page * page)) {
    return absl::AlreadyExistsError(
        absl::StrCat("device address 0x", absl::Hex(at), " is this process's memory"));
  }
  live_.emplace(at, Entry{buffer, size, device, kind});
  return absl::OkStatus();
}

absl::StatusOr<hal::Buffer> DeviceMemory::Remove(uint64_t address, Kind kind) {
  absl::MutexLock lock(&mu_);
  auto it = live_.find(address);
  if (it == live_.end() || it->second.kind != kind) {
    return absl::InvalidArgumentError(
        absl::StrCat("0x", absl::Hex(address), " is not the start of a live ",
                     kind == Kind::kAllocation ? "allocation" : "module global"));
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
  absl::MutexLock lock(&mu_);
  auto it = reserved_.upper_bound(address);
  return it != reserved_.begin() && std::prev(it)->second > address;
}

}  // namespace accel::cuda_driver
