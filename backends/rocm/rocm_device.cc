#include "rocm_device.h"

#include <dirent.h>

#include <cstddef>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "backends/common/pci_sysfs.h"
#include "hip_error.h"
#include "rocm_event.h"
#include "rocm_memory.h"
#include "rocm_module.h"
#include "rocm_stream.h"

namespace accel::rocm {
namespace {

// The vendor from the PCI id: the HIP runtime cannot tell an AMD card from
// a Hygon DCU, the PCI vendor id can.
std::string VendorOf(const std::string& pci_bus_id) {
  std::string vendor = backends::PciVendorName(backends::PciVendorId(pci_bus_id));
  // No sysfs (a container without /sys/bus/pci): the loaded runtime is the
  // AMD implementation of HIP, so say that rather than nothing.
  return vendor.empty() ? "AMD" : vendor;
}

// The gfx target from the KFD topology, for runtimes whose property struct
// we cannot read: the node whose PCI location matches says
// gfx_target_version, e.g. 90010 for gfx90a (major, minor, stepping).
std::string GfxFromKfdTopology(const std::string& pci_bus_id) {
  unsigned domain = 0, bus = 0, dev = 0, fn = 0;
  if (std::sscanf(pci_bus_id.c_str(), "%x:%x:%x.%x", &domain, &bus, &dev, &fn) != 4) return "";
  const uint64_t location = (bus << 8) | (dev << 3) | fn;
  const std::string root = "/sys/class/kfd/kfd/topology/nodes";
  DIR* dir = opendir(root.c_str());
  if (dir == nullptr) return "";
  std::string gfx;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    std::ifstream in(root + "/" + entry->d_name + "/properties");
    std::string key;
    uint64_t value = 0, node_location = ~uint64_t{0}, node_domain = 0, version = 0;
    while (in >> key >> value) {
      if (key == "location_id") node_location = value;
      if (key == "domain") node_domain = value;
      if (key == "gfx_target_version") version = value;
    }
    if (node_location == location && node_domain == domain && version != 0) {
      gfx = absl::StrFormat("gfx%u%x%x", static_cast<unsigned>(version / 10000),
                            static_cast<unsigned>(version / 100 % 100),
                            static_cast<unsigned>(version % 100));
      break;
    }
  }
  closedir(dir);
  return gfx;
}

// gcnArchName through the ROCm 5 layout of hipDeviceProp_t. The buffer is
// far larger than the struct: a runtime with a longer legacy struct must not
// write past it.
std::string GcnArchName(const HipApi& api, int ordinal) {
  if (api.hipGetDevicePropertiesLegacy == nullptr) return "";
  std::vector<std::max_align_t> buffer(64 * 1024 / sizeof(std::max_align_t));  // zeroed
  if (api.hipGetDevicePropertiesLegacy(buffer.data(), ordinal) != hipSuccess) return "";
  const char* name =
      reinterpret_cast<const char*>(buffer.data()) + offsetof(hipDeviceProp_t, gcnArchName);
  std::string arch(name, strnlen(name, sizeof(hipDeviceProp_t::gcnArchName)));
  // A layout we do not know puts something else there: only trust a gfx name.
  return absl::StartsWith(arch, "gfx") ? arch : "";
}

// The 16 UUID bytes in canonical 8-4-4-4-12 form; "" when HIP has none.
std::string FormatUuid(const hipUUID& uuid) {
  const auto* b = reinterpret_cast<const unsigned char*>(uuid.bytes);
  bool any = false;
  for (int i = 0; i < 16; ++i) any |= b[i] != 0;
  if (!any) return "";
  return absl::StrFormat("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                         b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
                         b[12], b[13], b[14], b[15]);
}

}  // namespace

absl::string_view BaseGfxName(absl::string_view arch) { return arch.substr(0, arch.find(':')); }

absl::StatusOr<std::unique_ptr<RocmDevice>> RocmDevice::Open(const HipApi& api, int ordinal) {
  std::unique_ptr<RocmDevice> device(new RocmDevice(api, ordinal));
  absl::Status status = device->ReadProperties();
  if (!status.ok()) return status;
  return device;
}

ScopedDevice::ScopedDevice(const RocmDevice& device) : api_(device.api()) {
  status_ = HipStatus(api_, api_.hipGetDevice(&previous_), "hipGetDevice");
  if (!status_.ok() || previous_ == device.ordinal()) return;
  status_ = HipStatus(api_, api_.hipSetDevice(device.ordinal()),
                      absl::StrCat("hipSetDevice(", device.ordinal(), ")"));
  switched_ = status_.ok();
}

ScopedDevice::~ScopedDevice() {
  // Fails only for an ordinal HIP no longer knows, which it gave us itself;
  // there is no caller to tell at the end of a call.
  if (switched_) (void)api_.hipSetDevice(previous_);
}

absl::Status RocmDevice::SynchronizeAll() const {
  ScopedDevice scoped(*this);
  if (!scoped.ok()) return scoped.status();
  return HipStatus(api_, api_.hipDeviceSynchronize(), "hipDeviceSynchronize");
}

absl::Status RocmDevice::ReadProperties() {
  using hal::plugin::CopyProperty;
  ScopedDevice scoped(*this);
  if (!scoped.ok()) return scoped.status();
  absl::Status status;
  properties_.struct_size = sizeof(properties_);

  char name[256] = {};
  status =
      HipStatus(api_, api_.hipDeviceGetName(name, sizeof(name) - 1, ordinal_), "hipDeviceGetName");
  if (!status.ok()) return status;
  CopyProperty(name, properties_.name);

  size_t total = 0;
  status = HipStatus(api_, api_.hipDeviceTotalMem(&total, ordinal_), "hipDeviceTotalMem");
  if (!status.ok()) return status;
  properties_.total_memory = total;

  // Attributes in HIP's CUDA-compatible range, whose numbering is stable
  // across ROCm releases (unlike hipDeviceProp_t's layout).
  struct Attribute {
    hipDeviceAttribute_t attribute;
    const char* what;
    int value = 0;
  };
  Attribute attributes[] = {
      {hipDeviceAttributeMultiprocessorCount, "multiprocessor count"},
      {hipDeviceAttributeMaxThreadsPerBlock, "max threads per block"},
      {hipDeviceAttributeMaxGridDimX, "max grid x"},
      {hipDeviceAttributeMaxGridDimY, "max grid y"},
      {hipDeviceAttributeMaxGridDimZ, "max grid z"},
      {hipDeviceAttributeMaxBlockDimX, "max block x"},
      {hipDeviceAttributeMaxBlockDimY, "max block y"},
      {hipDeviceAttributeMaxBlockDimZ, "max block z"},
      {hipDeviceAttributeMaxSharedMemoryPerBlock, "max shared memory per block"},
  };
  for (Attribute& a : attributes) {
    status = HipStatus(api_, api_.hipDeviceGetAttribute(&a.value, a.attribute, ordinal_),
                       absl::StrCat("hipDeviceGetAttribute(", a.what, ")"));
    if (!status.ok()) return status;
    if (a.value < 0) a.value = 0;
  }
  properties_.compute_units = static_cast<uint32_t>(attributes[0].value);
  properties_.max_threads_per_block = static_cast<uint32_t>(attributes[1].value);
  for (int i = 0; i < 3; ++i) {
    properties_.max_grid[i] = static_cast<uint32_t>(attributes[2 + i].value);
    properties_.max_block[i] = static_cast<uint32_t>(attributes[5 + i].value);
  }
  properties_.max_shared_memory_per_block = static_cast<uint64_t>(attributes[8].value);

  // The PCI address names the device in sysfs; a runtime without one (a
  // virtual device) leaves vendor, NUMA node and the topology fallback unknown.
  char bus_id[64] = {};
  std::string pci;
  if (api_.hipDeviceGetPCIBusId(bus_id, sizeof(bus_id) - 1, ordinal_) == hipSuccess) {
    pci = absl::AsciiStrToLower(bus_id);
  }
  CopyProperty(pci, properties_.pci_bus_id);
  CopyProperty(VendorOf(pci), properties_.vendor);
  properties_.numa_node = backends::PciNumaNode(pci);

  std::string arch = GcnArchName(api_, ordinal_);
  if (arch.empty()) arch = GfxFromKfdTopology(pci);
  gfx_ = std::string(BaseGfxName(arch));
  // Conformance needs an arch; "amdgcn" says what we know without a target.
  CopyProperty(gfx_.empty() ? "amdgcn" : gfx_, properties_.arch);

  if (api_.hipDeviceGetUuid != nullptr) {
    hipUUID uuid{};
    // "where available": a runtime that cannot say leaves the UUID empty.
    if (api_.hipDeviceGetUuid(&uuid, ordinal_) == hipSuccess) {
      CopyProperty(FormatUuid(uuid), properties_.uuid);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::pair<uint64_t, uint64_t>> RocmDevice::MemoryInfo() {
  ScopedDevice scoped(*this);
  if (!scoped.ok()) return scoped.status();
  size_t free_bytes = 0, total_bytes = 0;
  absl::Status status =
      HipStatus(api_, api_.hipMemGetInfo(&free_bytes, &total_bytes), "hipMemGetInfo");
  if (!status.ok()) return status;
  // The total is the one the properties report, so the two never disagree.
  const uint64_t total = properties_.total_memory;
  return std::make_pair(std::min<uint64_t>(free_bytes, total), total);
}

int32_t RocmDevice::ImageScore(AccelImageFormat format, absl::string_view arch) {
  if (format != ACCEL_IMAGE_HSACO) return -1;
  // "" asks whether the format is runnable at all; the load then decides.
  if (arch.empty()) return 0;
  return !gfx_.empty() && BaseGfxName(arch) == gfx_ ? 100 : -1;
}

absl::StatusOr<std::unique_ptr<hal::plugin::BufferImpl>> RocmDevice::Allocate(uint64_t size) {
  absl::StatusOr<std::unique_ptr<RocmBuffer>> buffer = RocmBuffer::Allocate(*this, size);
  if (!buffer.ok()) return buffer.status();
  return std::unique_ptr<hal::plugin::BufferImpl>(std::move(*buffer));
}

absl::StatusOr<std::unique_ptr<hal::plugin::StreamImpl>> RocmDevice::CreateStream() {
  absl::StatusOr<std::unique_ptr<RocmStream>> stream = RocmStream::Create(*this);
  if (!stream.ok()) return stream.status();
  return std::unique_ptr<hal::plugin::StreamImpl>(std::move(*stream));
}

absl::StatusOr<std::unique_ptr<hal::plugin::EventImpl>> RocmDevice::CreateEvent() {
  absl::StatusOr<std::unique_ptr<RocmEvent>> event = RocmEvent::Create(*this);
  if (!event.ok()) return event.status();
  return std::unique_ptr<hal::plugin::EventImpl>(std::move(*event));
}

absl::StatusOr<std::unique_ptr<hal::plugin::ModuleImpl>> RocmDevice::LoadModule(
    AccelImageFormat format, absl::string_view image) {
  if (format != ACCEL_IMAGE_HSACO) {
    return absl::InvalidArgumentError("the rocm backend runs hsaco images only");
  }
  absl::StatusOr<std::unique_ptr<RocmModule>> module = RocmModule::Load(*this, image);
  if (!module.ok()) return module.status();
  return std::unique_ptr<hal::plugin::ModuleImpl>(std::move(*module));
}

}  // namespace accel::rocm
