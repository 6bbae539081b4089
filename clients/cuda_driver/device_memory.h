// The device address space of accelpool's libcuda.so.1. A program's device
// pointers are the node's own device addresses (hal/device_address.h), so
// that kernels can follow pointers stored anywhere in their arguments, as
// they do on a local GPU. Each allocation's pages are reserved here with no
// access, so no host pointer of the program can equal a device pointer (as
// under CUDA's unified addressing) and a host dereference of one faults. An
// address that is not inside a live allocation, or a range that runs past
// its end, is CUDA_ERROR_INVALID_VALUE; the node checks every range again,
// by the session's own buffers.
#ifndef ACCEL_CLIENTS_CUDA_DRIVER_DEVICE_MEMORY_H_
#define ACCEL_CLIENTS_CUDA_DRIVER_DEVICE_MEMORY_H_

#include <cstdint>
#include <map>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "accel/hal/buffer.h"

namespace accel::cuda_driver {

class DeviceMemory {
 public:
  DeviceMemory() = default;
  ~DeviceMemory();
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;

  // What an address range is: memory the program allocated (cuMemFree
  // frees it), or a module's global (it goes with its module).
  enum class Kind { kAllocation, kModuleGlobal };

  // Gives `buffer` (of leased device `device`) `address`, its node's
  // address of it (hal::DeviceAddressOf). ALREADY_EXISTS when that range
  // cannot be the program's here: it holds memory of this process, or
  // overlaps a live allocation (another node's addresses); the caller
  // allocates again.
  absl::Status Add(const hal::Buffer& buffer, uint64_t address, int device,
                   Kind kind = Kind::kAllocation);
  // The range of that kind at exactly `address`, taken out of the space;
  // the caller frees it. INVALID_ARGUMENT for any other address.
  absl::StatusOr<hal::Buffer> Remove(uint64_t address, Kind kind = Kind::kAllocation);

  struct Range {
    hal::BufferView view;
    int device = 0;
  };
  // The `size` bytes at `address`, which must lie inside one live allocation.
  absl::StatusOr<Range> Find(uint64_t address, uint64_t size) const;
  // The allocation holding `address`: its base, size and device.
  struct Allocation {
    uint64_t base = 0;
    uint64_t size = 0;
    int device = 0;
  };
  std::optional<Allocation> Containing(uint64_t address) const;
  // Whether `address` is a device address, live or freed: a freed
  // allocation's pages stay reserved, so a stale pointer is never taken for
  // host memory.
  bool IsDeviceAddress(uint64_t address) const;

 private:
  struct Entry {
    hal::Buffer buffer;
    uint64_t size;
    int device;
    Kind kind;
  };
  // Reserves the pages of [begin, end) that are not reserved yet; false
  // (nothing reserved) when some of them are this process's memory.
  bool ReserveLocked(uint64_t begin, uint64_t end) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<uint64_t, Entry> live_ ABSL_GUARDED_BY(mu_);  // by base address
  // The reserved page ranges, disjoint and merged: start -> end.
  std::map<uint64_t, uint64_t> reserved_ ABSL_GUARDED_BY(mu_);
};

}  // namespace accel::cuda_driver

#endif  // ACCEL_CLIENTS_CUDA_DRIVER_DEVICE_MEMORY_H_
