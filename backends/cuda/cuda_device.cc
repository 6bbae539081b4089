#include "cuda_device.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "accel/hal/types.h"
#include "backends/common/pci_sysfs.h"
#include "cuda_context.h"
#include "cuda_errors.h"
#include "cuda_event.h"
#include "cuda_memory.h"
#include "cuda_module.h"
#include "cuda_stream.h"

namespace accel::cuda {
namespace {

// "0000:17:00.0" as sysfs spells it. Drivers print the domain with 4 or 8
// digits and in upper case.
std::string NormalizeBusId(std::string id) {
  id = absl::AsciiStrToLower(id);
  size_t colon = id.find(':');
  if (colon == 8 && id.compare(0, 4, "0000") == 0) id.erase(0, 4);
  return id;
}

std::string FormatUuid(const CUuuid& uuid) {
  const auto* b = reinterpret_cast<const unsigned char*>(uuid.bytes);
  char out[40];
  std::snprintf(out, sizeof(out),
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return out;
}

// Parses "sm_90", "sm_90a", "compute_75" into (prefix, major*10+minor,
// suffix). Returns false for anything else.
bool ParseArch(absl::string_view arch, bool* is_sm, int* cc, std::string* suffix) {
  if (absl::ConsumePrefix(&arch, "sm_")) {
    *is_sm = true;
  } else if (absl::ConsumePrefix(&arch, "compute_")) {
    *is_sm = false;
  } else {
    return false;
  }
  size_t digits = 0;
  while (digits < arch.size() && std::isdigit(static_cast<unsigned char>(arch[digits]))) ++digits;
  if (digits < 2 || !absl::SimpleAtoi(arch.substr(0, digits), cc)) return false;
  *suffix = std::string(arch.substr(digits));
  return suffix->empty() || *suffix == "a" || *suffix == "f";
}

// Scores of one arch token on a device of compute capability `device_cc`:
// machine code for exactly this device beats machine code for an older
// minor revision of the same major (binary compatible), which beats PTX the
// driver must compile first.
int32_t ArchScore(absl::string_view arch, int device_cc) {
  bool is_sm = false;
  int cc = 0;
  std::string suffix;
  if (!ParseArch(arch, &is_sm, &cc, &suffix)) return -1;
  if (is_sm) {
    if (cc == device_cc) return 100;
    // Architecture-specific code ("sm_90a") runs only on that exact device.
    if (suffix.empty() && cc / 10 == device_cc / 10 && cc < device_cc) return 80 + cc % 10;
    return -1;
  }
  // PTX for a virtual architecture runs on that one and every newer one;
  // the closer to the device, the better the code.
  if (!suffix.empty()) return cc == device_cc ? 50 : -1;
  return cc <= device_cc ? 20 + cc / 10 : -1;
}

}  // namespace

CudaDevice::CudaDevice(const Driver& driver, CUdevice device, CUcontext context, uint32_t index)
    : driver_(driver),
      device_(device),
      context_(context),
      id_(absl::StrCat("cuda:", index)),
      releases_(driver) {}

absl::StatusOr<std::unique_ptr<CudaDevice>> CudaDevice::Create(const Driver& driver, int ordinal,
                                                               uint32_t index) {
  CUdevice device = 0;
  if (absl::Status s = ToStatus(driver, driver.cuDeviceGet(&device, ordinal), "cuDeviceGet");
      !s.ok()) {
    return s;
  }
  CUcontext context = nullptr;
  if (absl::Status s = ToStatus(driver, driver.cuDevicePrimaryCtxRetain(&context, device),
                                "cuDevicePrimaryCtxRetain");
      !s.ok()) {
    return s;
  }
  std::unique_ptr<CudaDevice> made(new CudaDevice(driver, device, context, index));
  if (absl::Status s = made->Init(); !s.ok()) return s;  // the destructor releases the context
  return made;
}

absl::Status CudaDevice::Init() {
  ContextGuard guard(driver_, context_);
  if (!guard.ok()) return guard.status();
  auto attribute = [&](CUdevice_attribute which, int* value) {
    return ToStatus(driver_, driver_.cuDeviceGetAttribute(value, which, device_),
                    "cuDeviceGetAttribute");
  };
  int major = 0, minor = 0, sms = 0, threads = 0, shared = 0, shared_optin = 0;
  int block[3] = {}, grid[3] = {};
  for (auto [which, value] : std::initializer_list<std::pair<CUdevice_attribute, int*>>{
           {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, &major},
           {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, &minor},
           {CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, &sms},
           {CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, &threads},
           {CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK, &shared},
           {CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X, &block[0]},
           {CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y, &block[1]},
           {CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z, &block[2]},
           {CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X, &grid[0]},
           {CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y, &grid[1]},
           {CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z, &grid[2]}}) {
    if (absl::Status s = attribute(which, value); !s.ok()) return s;
  }
  // Opt-in shared memory (above 48 KiB) is what a launch may ask for: the
  // stream raises the kernel's limit when a launch needs it. Older or
  // foreign drivers may not know the attribute.
  if (!attribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, &shared_optin).ok()) {
    shared_optin = 0;
  }
  compute_capability_ = major * 10 + minor;
  // Every attribute the driver answers, for accelpool's libcuda.so.1 on the
  // pool's clients. A driver newer than our cuda.h may know numbers beyond
  // its CU_DEVICE_ATTRIBUTE_MAX, so a wider range is asked; a number the
  // driver does not define answers CUDA_ERROR_INVALID_VALUE and is left out.
  constexpr int kHighestAttributeAsked = 511;
  for (int which = 1; which <= kHighestAttributeAsked; ++which) {
    int value = 0;
    if (driver_.cuDeviceGetAttribute(&value, static_cast<CUdevice_attribute>(which), device_) ==
        CUDA_SUCCESS) {
      attributes_.push_back({which, 0, value});
    }
  }

  char name[256] = {};
  if (absl::Status s = ToStatus(driver_, driver_.cuDeviceGetName(name, sizeof(name) - 1, device_),
                                "cuDeviceGetName");
      !s.ok()) {
    return s;
  }
  size_t total = 0;
  if (absl::Status s =
          ToStatus(driver_, driver_.cuDeviceTotalMem(&total, device_), "cuDeviceTotalMem");
      !s.ok()) {
    return s;
  }
  std::string bus_id;
  char bus[64] = {};
  if (driver_.cuDeviceGetPCIBusId(bus, sizeof(bus) - 1, device_) == CUDA_SUCCESS) {
    bus_id = NormalizeBusId(bus);  // else "": not on PCI, or not reported
  }
  std::string uuid;
  CUuuid raw_uuid{};
  if (driver_.cuDeviceGetUuid != nullptr &&
      driver_.cuDeviceGetUuid(&raw_uuid, device_) == CUDA_SUCCESS) {
    uuid = FormatUuid(raw_uuid);
  }
  // A CUDA-compatible stack from another vendor shows its own PCI id.
  const int32_t numa_node = backends::PciNumaNode(bus_id);
  std::string vendor = backends::PciVendorName(backends::PciVendorId(bus_id));
  if (vendor.empty()) vendor = "unknown";

  using hal::plugin::CopyProperty;
  properties_.struct_size = sizeof(properties_);
  CopyProperty(name, properties_.name);
  CopyProperty(vendor, properties_.vendor);
  CopyProperty(absl::StrCat("sm_", major, minor), properties_.arch);
  CopyProperty(uuid, properties_.uuid);
  CopyProperty(bus_id, properties_.pci_bus_id);
  properties_.numa_node = numa_node;
  properties_.compute_units = static_cast<uint32_t>(sms);
  properties_.total_memory = total;
  properties_.max_threads_per_block = static_cast<uint32_t>(threads);
  for (int i = 0; i < 3; ++i) {
    properties_.max_grid[i] = static_cast<uint32_t>(grid[i]);
    properties_.max_block[i] = static_cast<uint32_t>(block[i]);
  }
  properties_.max_shared_memory_per_block =
      static_cast<uint64_t>(shared_optin > shared ? shared_optin : shared);

  if (absl::Status s = ToStatus(
          driver_, driver_.cuStreamCreate(&fill_stream_, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
      !s.ok()) {
    return s;
  }
  return absl::OkStatus();
}

CudaDevice::~CudaDevice() {
  // Errors here have no one to go to: the HAL is closing the backend, and a
  // driver that is already shutting down (process exit) fails every call.
  {
    ContextGuard guard(driver_, context_);
    if (guard.ok()) {
      releases_.Collect(/*wait=*/true);
      if (fill_stream_ != nullptr) driver_.cuStreamDestroy(fill_stream_);
    }
  }
  driver_.cuDevicePrimaryCtxRelease(device_);
}

absl::StatusOr<std::pair<uint64_t, uint64_t>> CudaDevice::MemoryInfo() {
  ContextGuard guard(driver_, context_);
  if (!guard.ok()) return guard.status();
  releases_.Collect(/*wait=*/false);
  size_t free_bytes = 0, total_bytes = 0;
  if (absl::Status s =
          ToStatus(driver_, driver_.cuMemGetInfo(&free_bytes, &total_bytes), "cuMemGetInfo");
      !s.ok()) {
    return s;
  }
  return std::make_pair(uint64_t{free_bytes}, uint64_t{total_bytes});
}

int32_t CudaDevice::ImageScore(AccelImageFormat format, absl::string_view arch) {
  switch (format) {
    case ACCEL_IMAGE_PTX:
    case ACCEL_IMAGE_CUBIN:
    case ACCEL_IMAGE_FATBIN:
      break;
    default:
      return -1;
  }
  // No arch given (a raw image): the format is runnable, the driver decides
  // on the contents. Rank as the weakest of its kind.
  if (arch.empty()) return format == ACCEL_IMAGE_PTX ? 10 : format == ACCEL_IMAGE_FATBIN ? 15 : 12;
  if (format == ACCEL_IMAGE_FATBIN) {
    // A fat binary may name several archs ("sm_80,sm_90,compute_90"): the
    // driver picks the best one it holds, so it scores as that one.
    int32_t best = -1;
    for (absl::string_view token : absl::StrSplit(arch, ',', absl::SkipWhitespace())) {
      best = std::max(best, ArchScore(absl::StripAsciiWhitespace(token), compute_capability_));
    }
    return best;
  }
  int32_t score = ArchScore(arch, compute_capability_);
  if (score < 0) return -1;
  // Machine code in a cubin must name an sm arch; PTX a compute one.
  bool is_sm = absl::StartsWith(arch, "sm_");
  if (format == ACCEL_IMAGE_CUBIN && !is_sm) return -1;
  if (format == ACCEL_IMAGE_PTX && is_sm) return -1;
  return score;
}

absl::StatusOr<std::unique_ptr<hal::plugin::BufferImpl>> CudaDevice::Allocate(uint64_t size) {
  if (size > properties_.total_memory) {
    return absl::ResourceExhaustedError(
        absl::StrCat(id_, " out of memory: requested ", hal::FormatByteSize(size),
                     ", the device has ", hal::FormatByteSize(properties_.total_memory)));
  }
  ContextGuard guard(driver_, context_);
  if (!guard.ok()) return guard.status();
  releases_.Collect(/*wait=*/false);
  CUdeviceptr ptr = 0;
  CUresult r = driver_.cuMemAlloc(&ptr, size);
  if (r == CUDA_ERROR_OUT_OF_MEMORY && releases_.HasPending()) {
    // Memory freed by the application may still wait for queued work.
    releases_.Collect(/*wait=*/true);
    r = driver_.cuMemAlloc(&ptr, size);
  }
  if (r != CUDA_SUCCESS) {
    absl::Status s = ToStatus(driver_, r, "cuMemAlloc");
    return absl::Status(s.code(), absl::StrCat(s.message(), " (requested ",
                                               hal::FormatByteSize(size), " on ", id_, ")"));
  }
  // No tenant may see another's bytes: zero the memory before handing it out.
  r = driver_.cuMemsetD8Async(ptr, 0, size, fill_stream_);
  if (r == CUDA_SUCCESS) r = driver_.cuStreamSynchronize(fill_stream_);
  if (r != CUDA_SUCCESS) {
    driver_.cuMemFree(ptr);  // the zero-fill error is the one to report
    return ToStatus(driver_, r, "cuMemsetD8Async (zero-fill)");
  }
  return std::make_unique<CudaBuffer>(*this, ptr, size);
}

absl::StatusOr<std::unique_ptr<hal::plugin::StreamImpl>> CudaDevice::CreateStream() {
  return CudaStream::Create(*this);
}

absl::StatusOr<std::unique_ptr<hal::plugin::EventImpl>> CudaDevice::CreateEvent() {
  return CudaEvent::Create(*this);
}

absl::StatusOr<std::unique_ptr<hal::plugin::ModuleImpl>> CudaDevice::LoadModule(
    AccelImageFormat format, absl::string_view image) {
  return CudaModule::Load(*this, format, image);
}

}  // namespace accel::cuda
