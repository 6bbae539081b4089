#include "host_device.h"

#include <unistd.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "accel/hal/types.h"
#include "host_event.h"
#include "host_module.h"
#include "host_stream.h"

namespace accel::host {
namespace {

// FNV-1a then a splitmix64 finaliser: a stable, well-mixed hash, so a device
// keeps its UUID across restarts and neighbours' UUIDs look unrelated.
uint64_t StableHash(absl::string_view data, uint64_t seed) {
  uint64_t h = seed;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

std::string StableUuid(uint32_t index) {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  std::string key = absl::StrCat("accelpool-host-device/", host, "/", index);
  uint64_t hi = StableHash(key, 0xcbf29ce484222325ull);
  uint64_t lo = StableHash(key, 0x84222325cbf29ce4ull);
  hi = (hi & ~0xf000ull) | 0x5000ull;                         // version 5 style
  lo = (lo & 0x3fffffffffffffffull) | 0x8000000000000000ull;  // RFC 4122 variant
  char out[40];
  std::snprintf(out, sizeof(out), "%08x-%04x-%04x-%04x-%012llx", static_cast<uint32_t>(hi >> 32),
                static_cast<uint32_t>(hi >> 16) & 0xffff, static_cast<uint32_t>(hi) & 0xffff,
                static_cast<uint32_t>(lo >> 48) & 0xffff,
                static_cast<unsigned long long>(lo & 0xffffffffffffull));
  return out;
}

}  // namespace

HostDevice::HostDevice(uint32_t index, uint64_t capacity, ThreadPool& pool,
                       ExecutorThreads& stream_threads, uint32_t compute_units)
    : index_(index),
      memory_(std::make_shared<MemoryPool>(capacity)),
      pool_(pool),
      stream_threads_(stream_threads),
      properties_{} {
  using hal::plugin::CopyProperty;
  properties_.struct_size = sizeof(properties_);
  CopyProperty(absl::StrCat("accelpool host device ", index), properties_.name);
  CopyProperty("accelpool", properties_.vendor);
  CopyProperty(HostArch(), properties_.arch);
  CopyProperty(StableUuid(index), properties_.uuid);
  properties_.numa_node = -1;
  properties_.compute_units = compute_units;
  properties_.total_memory = capacity;
  properties_.max_threads_per_block = 1024;
  properties_.max_grid[0] = 0x7fffffff;
  properties_.max_grid[1] = 65535;
  properties_.max_grid[2] = 65535;
  properties_.max_block[0] = 1024;
  properties_.max_block[1] = 1024;
  properties_.max_block[2] = 64;
  properties_.max_shared_memory_per_block = 64 * 1024;
}

absl::StatusOr<std::pair<uint64_t, uint64_t>> HostDevice::MemoryInfo() {
  return std::make_pair(memory_->capacity() - memory_->used(), memory_->capacity());
}

int32_t HostDevice::ImageScore(AccelImageFormat format, absl::string_view arch) {
  if (format != ACCEL_IMAGE_HOST_ELF) return -1;
  return arch.empty() || arch == HostArch() ? 100 : -1;
}

absl::StatusOr<std::unique_ptr<hal::plugin::BufferImpl>> HostDevice::Allocate(uint64_t size) {
  std::shared_ptr<HostMemory> memory = HostMemory::Allocate(memory_, size);
  if (memory == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("host:", index_, " out of memory: requested ", hal::FormatByteSize(size),
                     ", free ", hal::FormatByteSize(memory_->capacity() - memory_->used()), " of ",
                     hal::FormatByteSize(memory_->capacity())));
  }
  return std::make_unique<HostBuffer>(std::move(memory));
}

absl::StatusOr<std::unique_ptr<hal::plugin::StreamImpl>> HostDevice::CreateStream() {
  return std::make_unique<HostStream>(pool_, stream_threads_);
}

absl::StatusOr<std::unique_ptr<hal::plugin::EventImpl>> HostDevice::CreateEvent() {
  return std::make_unique<HostEvent>();
}

absl::StatusOr<std::unique_ptr<hal::plugin::ModuleImpl>> HostDevice::LoadModule(
    AccelImageFormat format, absl::string_view image) {
  if (format != ACCEL_IMAGE_HOST_ELF) {
    return absl::InvalidArgumentError("the host backend runs host-elf images only");
  }
  absl::StatusOr<std::unique_ptr<HostModule>> module = HostModule::Load(image);
  if (!module.ok()) return module.status();
  return std::unique_ptr<hal::plugin::ModuleImpl>(std::move(*module));
}

}  // namespace accel::host
