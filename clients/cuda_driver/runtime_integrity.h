// The CUDA runtime's check that it talks to a genuine driver: it calls
// the INTEGRITY_CHECK export table with a version and the time, and
// compares the answer with its own. For versions ending in 0 and 1 the
// answer is a constant; otherwise it is HMAC-MD2 (RFC 2104 over RFC 1319)
// under a fixed key of the driver's version, the caller's version, the
// process and thread, the addresses of two export tables and of the check
// itself, the time, and each device's UUID and PCI location. (NVIDIA does
// not document it; the construction was learnt from ZLUDA's notes on it.)
#ifndef ACCEL_CLIENTS_CUDA_DRIVER_RUNTIME_INTEGRITY_H_
#define ACCEL_CLIENTS_CUDA_DRIVER_RUNTIME_INTEGRITY_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace accel::cuda_driver {

// MD2 (RFC 1319) of `bytes`.
std::array<uint8_t, 16> Md2(const std::string& bytes);

struct IntegrityInput {
  uint32_t driver_version = 0;
  uint32_t version = 0;  // as the runtime passed it
  uint32_t process = 0;
  uint32_t thread = 0;  // pthread_self(), truncated
  const void* cudart_table = nullptr;
  const void* integrity_table = nullptr;
  const void* check_function = nullptr;
  uint64_t seconds = 0;  // as the runtime passed it
  struct Device {
    std::array<uint8_t, 16> uuid{};
    int32_t pci_domain = 0, pci_bus = 0, pci_device = 0;
  };
  std::vector<Device> devices;
};

std::array<uint64_t, 2> IntegrityAnswer(const IntegrityInput& input);

}  // namespace accel::cuda_driver

#endif  // ACCEL_CLIENTS_CUDA_DRIVER_RUNTIME_INTEGRITY_H_
