#include "ze_device.h"

#include <cstdio>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "accel/hal/types.h"
#include "ze_error.h"
#include "ze_module.h"
#include "ze_stream.h"

namespace accel::levelzero {
namespace {

constexpr int32_t kSpirvScore = 50;  // JIT from IL: runs anywhere, below a native image

// Not in the API 1.4 headers this builds against; the extension's layout and
// structure type come from later ze_api.h versions (ZE_extension_device_ip_version).
// A driver that does not know the structure leaves ipVersion at 0.
constexpr ze_structure_type_t kDeviceIpVersionExtType = static_cast<ze_structure_type_t>(0x1000f);
struct DeviceIpVersionExt {
  ze_structure_type_t stype;
  const void* pNext;
  uint32_t ipVersion;
};

std::string Vendor(uint32_t vendor_id) {
  if (vendor_id == 0x8086) return "Intel";
  return absl::StrFormat("0x%04x", vendor_id);
}

std::string Uuid(const ze_device_uuid_t& uuid) {
  const uint8_t* b = uuid.id;
  bool all_zero = true;
  for (int i = 0; i < ZE_MAX_DEVICE_UUID_SIZE; ++i) all_zero &= b[i] == 0;
  if (all_zero) return "";
  return absl::StrFormat("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                         b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
                         b[12], b[13], b[14], b[15]);
}

// A stable architecture name that Intel's offline compiler also accepts as
// a -device value, so native images can be matched to it later: the IP
// version as "<arch>.<release>.<revision>" (e.g. "12.55.8") where the driver
// reports it, else the PCI device id ("0x56a0").
std::string Arch(uint32_t ip_version, uint32_t device_id) {
  if (ip_version != 0) {
    return absl::StrFormat("%u.%u.%u", ip_version >> 22, (ip_version >> 14) & 0xff,
                           ip_version & 0x3f);
  }
  return absl::StrFormat("0x%04x", device_id);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ZeDevice>> ZeDevice::Create(const ZeApi* api,
                                                           ze_context_handle_t context,
                                                           ze_device_handle_t device,
                                                           uint32_t index) {
  std::unique_ptr<ZeDevice> result(new ZeDevice(api, context, device, index));
  absl::Status init = result->Init();
  if (!init.ok()) return init;
  return result;
}

absl::Status ZeDevice::Init() {
  ze_device_properties_t props = {};
  // The 1.2 structure type: timerResolution in ticks per second.
  props.stype = ZE_STRUCTURE_TYPE_DEVICE_PROPERTIES_1_2;
  ACCEL_ZE_RETURN_IF_ERROR("zeDeviceGetProperties", api_->zeDeviceGetProperties(device_, &props));
  // The IP version is asked for separately, and its failure ignored: it only
  // names the architecture, and a driver (or validation layer) that rejects
  // the unknown extension structure must not cost us the device.
  DeviceIpVersionExt ip = {kDeviceIpVersionExtType, nullptr, 0};
  ze_device_properties_t with_ip = {};
  with_ip.stype = ZE_STRUCTURE_TYPE_DEVICE_PROPERTIES_1_2;
  with_ip.pNext = &ip;
  if (api_->zeDeviceGetProperties(device_, &with_ip) != ZE_RESULT_SUCCESS) ip.ipVersion = 0;

  ze_device_compute_properties_t compute = {};
  compute.stype = ZE_STRUCTURE_TYPE_DEVICE_COMPUTE_PROPERTIES;
  ACCEL_ZE_RETURN_IF_ERROR("zeDeviceGetComputeProperties",
                           api_->zeDeviceGetComputeProperties(device_, &compute));

  uint32_t memory_count = 0;
  ACCEL_ZE_RETURN_IF_ERROR("zeDeviceGetMemoryProperties",
                           api_->zeDeviceGetMemoryProperties(device_, &memory_count, nullptr));
  std::vector<ze_device_memory_properties_t> memories(memory_count);
  for (ze_device_memory_properties_t& m : memories) {
    m = {};
    m.stype = ZE_STRUCTURE_TYPE_DEVICE_MEMORY_PROPERTIES;
  }
  ACCEL_ZE_RETURN_IF_ERROR(
      "zeDeviceGetMemoryProperties",
      api_->zeDeviceGetMemoryProperties(device_, &memory_count, memories.data()));
  uint64_t total_memory = 0;
  for (uint32_t i = 0; i < memory_count; ++i) total_memory += memories[i].totalSize;

  uint32_t group_count = 0;
  ACCEL_ZE_RETURN_IF_ERROR(
      "zeDeviceGetCommandQueueGroupProperties",
      api_->zeDeviceGetCommandQueueGroupProperties(device_, &group_count, nullptr));
  std::vector<ze_command_queue_group_properties_t> groups(group_count);
  for (ze_command_queue_group_properties_t& g : groups) {
    g = {};
    g.stype = ZE_STRUCTURE_TYPE_COMMAND_QUEUE_GROUP_PROPERTIES;
  }
  ACCEL_ZE_RETURN_IF_ERROR(
      "zeDeviceGetCommandQueueGroupProperties",
      api_->zeDeviceGetCommandQueueGroupProperties(device_, &group_count, groups.data()));
  bool found_compute = false;
  for (uint32_t i = 0; i < group_count && !found_compute; ++i) {
    if (groups[i].flags & ZE_COMMAND_QUEUE_GROUP_PROPERTY_FLAG_COMPUTE) {
      compute_ordinal_ = i;
      found_compute = true;
    }
  }
  if (!found_compute) {
    return absl::UnimplementedError(
        absl::StrCat("levelzero:", index_, " (", props.name, ") has no compute command queue"));
  }

  std::string pci_bus_id;
  if (api_->zeDevicePciGetPropertiesExt != nullptr) {
    ze_pci_ext_properties_t pci = {};
    pci.stype = ZE_STRUCTURE_TYPE_PCI_EXT_PROPERTIES;
    // Optional: integrated GPUs and older drivers do not support it.
    if (api_->zeDevicePciGetPropertiesExt(device_, &pci) == ZE_RESULT_SUCCESS) {
      pci_bus_id = absl::StrFormat("%04x:%02x:%02x.%x", pci.address.domain, pci.address.bus,
                                   pci.address.device, pci.address.function);
    }
  }

  using hal::plugin::CopyProperty;
  properties_.struct_size = sizeof(properties_);
  CopyProperty(props.name, properties_.name);
  CopyProperty(Vendor(props.vendorId), properties_.vendor);
  CopyProperty(Arch(ip.ipVersion, props.deviceId), properties_.arch);
  CopyProperty(Uuid(props.uuid), properties_.uuid);
  CopyProperty(pci_bus_id, properties_.pci_bus_id);
  properties_.numa_node = -1;  // Level Zero core does not report it
  properties_.compute_units =
      props.numSlices * props.numSubslicesPerSlice * props.numEUsPerSubslice;
  properties_.total_memory = total_memory;
  properties_.max_threads_per_block = compute.maxTotalGroupSize;
  properties_.max_grid[0] = compute.maxGroupCountX;
  properties_.max_grid[1] = compute.maxGroupCountY;
  properties_.max_grid[2] = compute.maxGroupCountZ;
  properties_.max_block[0] = compute.maxGroupSizeX;
  properties_.max_block[1] = compute.maxGroupSizeY;
  properties_.max_block[2] = compute.maxGroupSizeZ;
  properties_.max_shared_memory_per_block = compute.maxSharedLocalMemory;
  max_alloc_size_ = props.maxMemAllocSize;
  timer_.ticks_per_second = props.timerResolution;
  timer_.valid_bits = props.timestampValidBits;

  markers_ = std::make_shared<MarkerPool>(api_, context_, device_);

  ze_command_queue_desc_t desc = {};
  desc.stype = ZE_STRUCTURE_TYPE_COMMAND_QUEUE_DESC;
  desc.ordinal = compute_ordinal_;
  desc.mode = ZE_COMMAND_QUEUE_MODE_ASYNCHRONOUS;
  desc.priority = ZE_COMMAND_QUEUE_PRIORITY_NORMAL;
  ACCEL_ZE_RETURN_IF_ERROR(
      "zeCommandListCreateImmediate",
      api_->zeCommandListCreateImmediate(context_, device_, &desc, &fill_list_));
  return absl::OkStatus();
}

ZeDevice::~ZeDevice() {
  // Every stream, buffer and module of the device is gone by now (the HAL
  // closes the backend last); the zero-fill list is idle.
  if (fill_list_ != nullptr) api_->zeCommandListDestroy(fill_list_);
}

absl::StatusOr<std::pair<uint64_t, uint64_t>> ZeDevice::MemoryInfo() {
  // Level Zero's core API has no free-memory query (Sysman does, but needs
  // ZES_ENABLE_SYSMAN before zeInit and privileges); report what this
  // process's allocations leave of the device's memory.
  uint64_t total = properties_.total_memory;
  uint64_t used = in_use_->load();
  return std::make_pair(used >= total ? 0 : total - used, total);
}

int32_t ZeDevice::ImageScore(AccelImageFormat format, absl::string_view arch) {
  if (format != ACCEL_IMAGE_SPIRV) return -1;
  return arch.empty() || arch == properties_.arch ? kSpirvScore : -1;
}

absl::StatusOr<std::shared_ptr<ZeAllocation>> ZeDevice::AllocateMemory(uint64_t size,
                                                                       bool zero_fill) {
  auto exhausted = [&](absl::string_view why) {
    return absl::ResourceExhaustedError(absl::StrCat("levelzero:", index_, " cannot allocate ",
                                                     hal::FormatByteSize(size), ": ", why));
  };
  // Larger than the device: refuse before the driver, which would answer
  // with a size error rather than an out-of-memory one.
  if (size > properties_.total_memory) {
    return exhausted(
        absl::StrCat("the device has ", hal::FormatByteSize(properties_.total_memory)));
  }
  ze_device_mem_alloc_desc_t desc = {};
  desc.stype = ZE_STRUCTURE_TYPE_DEVICE_MEM_ALLOC_DESC;
  // Above maxMemAllocSize (often 4 GiB) Level Zero needs the relaxed limit.
  ze_relaxed_allocation_limits_exp_desc_t relaxed = {};
  relaxed.stype = ZE_STRUCTURE_TYPE_RELAXED_ALLOCATION_LIMITS_EXP_DESC;
  relaxed.flags = ZE_RELAXED_ALLOCATION_LIMITS_EXP_FLAG_MAX_SIZE;
  if (size > max_alloc_size_) desc.pNext = &relaxed;
  void* ptr = nullptr;
  in_use_->fetch_add(size);
  ze_result_t result =
      api_->zeMemAllocDevice(context_, &desc, size, /*alignment=*/0, device_, &ptr);
  if (result != ZE_RESULT_SUCCESS) {
    in_use_->fetch_sub(size);
    absl::Status status = ZeStatus("zeMemAllocDevice", result);
    // A size the device cannot serve is running out of memory for the HAL.
    if (result == ZE_RESULT_ERROR_UNSUPPORTED_SIZE) return exhausted(status.message());
    return status;
  }
  auto memory = std::make_shared<ZeAllocation>(api_, context_, ptr, size, in_use_);
  if (zero_fill) {
    absl::Status filled = ZeroFill(*memory);
    if (!filled.ok()) return filled;
  }
  return memory;
}

absl::Status ZeDevice::ZeroFill(ZeAllocation& memory) {
  // Synchronous: the buffer may be used on any stream as soon as Allocate
  // returns, and none of them would know to wait for an asynchronous fill.
  absl::StatusOr<std::shared_ptr<Marker>> marker = markers_->Acquire();
  if (!marker.ok()) return marker.status();
  absl::MutexLock lock(&fill_mu_);
  const uint8_t zero = 0;
  ACCEL_ZE_RETURN_IF_ERROR(
      "zeCommandListAppendMemoryFill",
      api_->zeCommandListAppendMemoryFill(fill_list_, memory.ptr(), &zero, sizeof(zero),
                                          memory.size(), (*marker)->event, 0, nullptr));
  ACCEL_ZE_RETURN_IF_ERROR("zeEventHostSynchronize",
                           api_->zeEventHostSynchronize((*marker)->event, UINT64_MAX));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<hal::plugin::BufferImpl>> ZeDevice::Allocate(uint64_t size) {
  absl::StatusOr<std::shared_ptr<ZeAllocation>> memory = AllocateMemory(size, /*zero_fill=*/true);
  if (!memory.ok()) return memory.status();
  return std::make_unique<ZeBuffer>(*std::move(memory));
}

absl::StatusOr<std::unique_ptr<hal::plugin::StreamImpl>> ZeDevice::CreateStream() {
  absl::StatusOr<std::unique_ptr<ZeStream>> stream = ZeStream::Create(*this);
  if (!stream.ok()) return stream.status();
  return std::unique_ptr<hal::plugin::StreamImpl>(*std::move(stream));
}

absl::StatusOr<std::unique_ptr<hal::plugin::EventImpl>> ZeDevice::CreateEvent() {
  return std::make_unique<ZeEvent>(api_, timer_);
}

absl::StatusOr<std::unique_ptr<hal::plugin::ModuleImpl>> ZeDevice::LoadModule(
    AccelImageFormat format, absl::string_view image) {
  if (format != ACCEL_IMAGE_SPIRV) {
    return absl::InvalidArgumentError("the levelzero backend runs spirv images only");
  }
  absl::StatusOr<std::unique_ptr<ZeModule>> module = ZeModule::Load(api_, context_, device_, image);
  if (!module.ok()) return module.status();
  return std::unique_ptr<hal::plugin::ModuleImpl>(*std::move(module));
}

}  // namespace accel::levelzero
