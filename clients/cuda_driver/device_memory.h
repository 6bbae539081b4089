// The device address space of accelpool's libcuda.so.1: every allocation
// the program makes on a leased device gets an address of its own, so that
// pointer arithmetic works and a pointer names one allocation and an offset
// in it. Addresses come from a range of the process's own address space
// reserved with no access, so no host pointer can ever equal a device
// pointer (as under CUDA's unified addressing) and a host dereference of
// one faults. An address that is not inside a live allocation, or a range
// that runs past its end, is CUDA_ERROR_INVALID_VALUE; the node checks the
// same bounds again on every command.
//
// These are this library's addresses for the node's buffers; a kernel that
// follows a pointer stored in its arguments needs the node's own device
// addresses, which the protocol does not carry yet.
#ifndef ACCEL_CLIENTS_CUDA_DRIVER_DEVICE_MEMORY_H_
#define ACCEL_CLIENTS_CUDA_DRIVER_DEVICE_MEMORY_H_

#include <cstdint>
#include <map>
#include <optional>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "accel/hal/buffer.h"

namespace accel::cuda_driver {

class DeviceMemory {
 public:
  DeviceMemory();
  ~DeviceMemory();
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;

  // Gives `buffer` (of leased device `device`) an address; RESOURCE_EXHAUSTED
  // when the reserved range is full.
  absl::StatusOr<uint64_t> Add(hal::Buffer buffer, int device);
  // The allocation at exactly `address`, taken out of the space; the caller
  // frees it. INVALID_ARGUMENT for any other address.
  absl::StatusOr<hal::Buffer> Remove(uint64_t address);

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
  // Whether `address` lies in the reserved range (a device address,
  // live or not).
  bool IsDeviceAddress(uint64_t address) const;

 private:
  explicit DeviceMemory(std::pair<void*, uint64_t> reserved);
  struct Entry {
    hal::Buffer buffer;
    uint64_t size;
    int device;
  };
  void* const reserved_;
  const uint64_t reserved_bytes_;
  mutable absl::Mutex mu_;
  std::map<uint64_t, Entry> live_ ABSL_GUARDED_BY(mu_);  // by base address
  uint64_t next_ ABSL_GUARDED_BY(mu_);                   // bump pointer
};

}  // namespace accel::cuda_driver

#endif  // ACCEL_CLIENTS_CUDA_DRIVER_DEVICE_MEMORY_H_
