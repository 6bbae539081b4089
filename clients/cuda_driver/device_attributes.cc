#include "clients/cuda_driver/device_attributes.h"

#include <algorithm>
#include <cstdio>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"

namespace accel::cuda_driver {
namespace {

int Clamp(uint64_t value) {
  return static_cast<int>(std::min<uint64_t>(value, std::numeric_limits<int>::max()));
}

// "0000:3b:00.0" -> domain, bus, device.
struct PciAddress {
  unsigned domain = 0, bus = 0, device = 0;
};
PciAddress ParsePci(const std::string& id) {
  PciAddress pci;
  unsigned function = 0;
  if (std::sscanf(id.c_str(), "%x:%x:%x.%x", &pci.domain, &pci.bus, &pci.device, &function) != 4) {
    return {};
  }
  return pci;
}

}  // namespace

ComputeCapability CapabilityOf(const hal::DeviceProperties& properties) {
  int number = 0;
  if (properties.backend != "cuda" || !absl::StartsWith(properties.arch, "sm_") ||
      !absl::SimpleAtoi(properties.arch.substr(3), &number) || number < 10) {
    return {};
  }
  return {number / 10, number % 10};
}

std::optional<int> DeviceAttribute(const hal::DeviceProperties& p, CUdevice_attribute attribute) {
  const ComputeCapability cc = CapabilityOf(p);
  const PciAddress pci = ParsePci(p.pci_bus_id);
  switch (attribute) {
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK:
      return Clamp(p.max_threads_per_block);
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X:
      return Clamp(p.max_block.x);
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y:
      return Clamp(p.max_block.y);
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z:
      return Clamp(p.max_block.z);
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X:
      return Clamp(p.max_grid.x);
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y:
      return Clamp(p.max_grid.y);
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z:
      return Clamp(p.max_grid.z);
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK:
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN:
      return Clamp(p.max_shared_memory_per_block);
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR:
      return Clamp(p.max_shared_memory_per_block);
    case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT:
      return Clamp(std::max<uint32_t>(p.compute_units, 1));
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR:
      return cc.major;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR:
      return cc.minor;
    case CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID:
      return static_cast<int>(pci.domain);
    case CU_DEVICE_ATTRIBUTE_PCI_BUS_ID:
      return static_cast<int>(pci.bus);
    case CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID:
      return static_cast<int>(pci.device);
    case CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY:
      return 64 << 10;
    case CU_DEVICE_ATTRIBUTE_WARP_SIZE:
      return 32;
    case CU_DEVICE_ATTRIBUTE_MAX_PITCH:
      return std::numeric_limits<int>::max();
    case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK:
    case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR:
      return 64 << 10;
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR:
      return Clamp(std::max<uint32_t>(p.max_threads_per_block, 1));
    case CU_DEVICE_ATTRIBUTE_TEXTURE_ALIGNMENT:
    case CU_DEVICE_ATTRIBUTE_SURFACE_ALIGNMENT:
      return 512;
    case CU_DEVICE_ATTRIBUTE_TEXTURE_PITCH_ALIGNMENT:
      return 32;
    // Features every device served through the pool has.
    case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING:
    case CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS:
    case CU_DEVICE_ATTRIBUTE_GPU_OVERLAP:
    case CU_DEVICE_ATTRIBUTE_STREAM_PRIORITIES_SUPPORTED:
      return 1;
    case CU_DEVICE_ATTRIBUTE_ASYNC_ENGINE_COUNT:
      return 1;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_MODE:
      return CU_COMPUTEMODE_DEFAULT;
    default:
      break;
  }
  // Every other attribute CUDA defines: the feature is absent.
  if (static_cast<int>(attribute) > 0 && attribute < CU_DEVICE_ATTRIBUTE_MAX) return 0;
  return std::nullopt;
}

}  // namespace accel::cuda_driver
