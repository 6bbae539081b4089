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
  // By the architecture alone: a leased device's backend is "remote", and
  // only CUDA devices have sm_ architectures.
  if (!absl::StartsWith(properties.arch, "sm_") ||
      !absl::SimpleAtoi(properties.arch.substr(3), &number) || number < 10) {
    return {};
  }
  return {number / 10, number % 10};
}

namespace {

// Attributes that say what a program can do through this library rather
// than what the device has: the node's own value would promise what no call
// here serves (managed or mapped host memory, memory pools, virtual memory
// management, IPC, stream memory operations, cooperative launches), or
// describe the node's host (NUMA) rather than the program's. By number, so
// that the table compiles against the cuda.h of any supported toolkit.
struct Served {
  int attribute;
  int value;
};
constexpr Served kServedHere[] = {
    {18, 0},                       // INTEGRATED: never with the program's host
    {19, 0},                       // CAN_MAP_HOST_MEMORY
    {20, CU_COMPUTEMODE_DEFAULT},  // COMPUTE_MODE: the pool decides who shares
    {41, 1},                       // UNIFIED_ADDRESSING: this library's addresses
    {83, 0},                       // MANAGED_MEMORY
    {86, 0},                       // HOST_NATIVE_ATOMIC_SUPPORTED
    {88, 0},                       // PAGEABLE_MEMORY_ACCESS
    {89, 0},                       // CONCURRENT_MANAGED_ACCESS
    {91, 0},                       // CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM
    {92, 0},                       // CAN_USE_STREAM_MEM_OPS_V1
    {93, 0},                       // CAN_USE_64_BIT_STREAM_MEM_OPS_V1
    {94, 0},                       // CAN_USE_STREAM_WAIT_VALUE_NOR_V1
    {95, 0},                       // COOPERATIVE_LAUNCH
    {96, 0},                       // COOPERATIVE_MULTI_DEVICE_LAUNCH
    {98, 0},                       // CAN_FLUSH_REMOTE_WRITES
    {99, 0},                       // HOST_REGISTER_SUPPORTED
    {100, 0},                      // PAGEABLE_MEMORY_ACCESS_USES_HOST_PAGE_TABLES
    {101, 0},                      // DIRECT_MANAGED_MEM_ACCESS_FROM_HOST
    {102, 0},                      // VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED
    {103, 0},                      // HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED
    {104, 0},                      // HANDLE_TYPE_WIN32_HANDLE_SUPPORTED
    {105, 0},                      // HANDLE_TYPE_WIN32_KMT_HANDLE_SUPPORTED
    {110, 0},                      // GPU_DIRECT_RDMA_WITH_CUDA_VMM_SUPPORTED
    {113, 0},                      // READ_ONLY_HOST_REGISTER_SUPPORTED
    {114, 0},                      // TIMELINE_SEMAPHORE_INTEROP_SUPPORTED
    {115, 0},                      // MEMORY_POOLS_SUPPORTED
    {116, 0},                      // GPU_DIRECT_RDMA_SUPPORTED
    {117, 0},                      // GPU_DIRECT_RDMA_FLUSH_WRITES_OPTIONS
    {118, 0},                      // GPU_DIRECT_RDMA_WRITES_ORDERING
    {119, 0},                      // MEMPOOL_SUPPORTED_HANDLE_TYPES
    {121, 0},                      // DEFERRED_MAPPING_CUDA_ARRAY_SUPPORTED
    {122, 0},                      // CAN_USE_64_BIT_STREAM_MEM_OPS
    {123, 0},                      // CAN_USE_STREAM_WAIT_VALUE_NOR
    {124, 0},                      // DMA_BUF_SUPPORTED
    {125, 0},                      // IPC_EVENT_SUPPORTED
    {128, 0},                      // HANDLE_TYPE_FABRIC_SUPPORTED
    {130, 0},                      // NUMA_CONFIG
    {131, -1},                     // NUMA_ID
    {132, 0},                      // MULTICAST_SUPPORTED
    {134, -1},                     // HOST_NUMA_ID
    {135, 0},                      // D3D12_CIG_SUPPORTED
    {138, 0},                      // VULKAN_CIG_SUPPORTED
    {141, 0},                      // HOST_NUMA_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED
    {142, 0},                      // HOST_NUMA_MEMORY_POOLS_SUPPORTED
    {143, 0},                      // HOST_NUMA_MULTINODE_IPC_SUPPORTED
    {144, 0},                      // HOST_MEMORY_POOLS_SUPPORTED
    {145, 0},                      // HOST_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED
    {146, 0},                      // HOST_ALLOC_DMA_BUF_SUPPORTED
};

std::optional<int> ServedHere(CUdevice_attribute attribute) {
  for (const Served& served : kServedHere) {
    if (served.attribute == static_cast<int>(attribute)) return served.value;
  }
  return std::nullopt;
}

// A value before CUDA's int.
int ClampSigned(int64_t value) {
  return static_cast<int>(
      std::clamp<int64_t>(value, std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
}

// For a node that reports no values of its driver's (a host device, an
// older node): what its HAL properties say, else the value of a device
// without the feature (0), or for limits what a CUDA device of the same
// compute capability has.
int FromProperties(const hal::DeviceProperties& p, CUdevice_attribute attribute) {
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
    case CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS:
    case CU_DEVICE_ATTRIBUTE_GPU_OVERLAP:
    case CU_DEVICE_ATTRIBUTE_STREAM_PRIORITIES_SUPPORTED:
      return 1;
    case CU_DEVICE_ATTRIBUTE_ASYNC_ENGINE_COUNT:
      return 1;
    default:
      break;
  }
  return 0;  // every other attribute: the feature is absent
}

}  // namespace

std::optional<int> DeviceAttribute(const hal::DeviceProperties& p, CUdevice_attribute attribute) {
  if (static_cast<int>(attribute) <= 0 || attribute >= CU_DEVICE_ATTRIBUTE_MAX) {
    return std::nullopt;
  }
  if (std::optional<int> served = ServedHere(attribute)) return served;
  // The node's driver's own value, where the node reports it in CUDA's
  // numbering (a CUDA device's).
  if (CapabilityOf(p).major != 0) {
    if (auto it = p.native_attributes.find(static_cast<int32_t>(attribute));
        it != p.native_attributes.end()) {
      return ClampSigned(it->second);
    }
  }
  return FromProperties(p, attribute);
}

}  // namespace accel::cuda_driver
