// accelpool's libnvidia-ml.so.1: NVML's basic queries (devices, names,
// UUIDs, memory) answered for the devices of a tenant's leases, so that
// monitoring tools in a GPU-less container see what its tenant leased. It
// leases nothing itself: it lists the live leases that ACCEL_POOL_TOKEN
// sees at ACCEL_POOL (TLS from ACCEL_POOL_TLS_*), again at most once a
// second. An operator's token, which sees every tenant's, is refused.
//
// Utilisation is not measured by the pool, so nvmlDeviceGetUtilizationRates
// answers NVML_ERROR_NOT_SUPPORTED rather than a number it does not know.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <cuda.h>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "clients/nvml/leased_devices.h"
#include "clients/nvml/nvml_types.h"
#include "clients/remote/pool_client.h"
#include "pool/common/tls.h"

#define ACCEL_NVML_EXPORT extern "C" __attribute__((visibility("default")))

struct nvmlDevice_st {
  unsigned index;
  accel::nvml::LeasedDevice device;
  bool gone = false;  // its lease ended since nvmlInit
};

namespace accel::nvml {
namespace {

// How old the figures may be before a call reads the pool again, how long
// one read may take, and the longest pause after reads that failed.
constexpr absl::Duration kFreshFor = absl::Seconds(1);
constexpr std::chrono::milliseconds kListWithin{2000};
constexpr absl::Duration kLongestBackOff = absl::Seconds(30);

void Log(const std::string& message) {
  std::fprintf(stderr, "accelpool nvml: %s\n", message.c_str());
}

nvmlReturn_t FromStatus(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      return NVML_ERROR_NO_PERMISSION;
    default:
      return NVML_ERROR_DRIVER_NOT_LOADED;
  }
}

// NVML is a C interface whose state lives between nvmlInit and
// nvmlShutdown: this library's one state, behind its own lock.
class Library {
 public:
  static Library& Get() {
    static Library* library = new Library();  // never destroyed: atexit order is the app's
    return *library;
  }

  nvmlReturn_t Init() {
    absl::MutexLock lock(&mu_);
    if (inits_ > 0) {
      ++inits_;
      return NVML_SUCCESS;
    }
    const char* pool = std::getenv("ACCEL_POOL");
    if (pool == nullptr || *pool == '\0') {
      Log("ACCEL_POOL is not set: no pool to show the leased devices of");
      return NVML_ERROR_DRIVER_NOT_LOADED;
    }
    absl::StatusOr<std::shared_ptr<client::PoolClient>> made =
        client::PoolClient::Create(pool, pool::TlsFilesFromEnvironment());
    if (!made.ok()) {
      Log(made.status().ToString());
      return NVML_ERROR_DRIVER_NOT_LOADED;
    }
    pool_ = *std::move(made);
    token_ = client::TenantToken("");
    failures_ = 0;
    next_read_ = absl::InfinitePast();
    // A new session (perhaps another pool or token) starts with no devices.
    // The last one's records are kept, never freed: their handles stay
    // memory this library owns, and are refused as not its own.
    for (std::unique_ptr<nvmlDevice_st>& d : devices_) retired_.push_back(std::move(d));
    devices_.clear();
    if (absl::Status read = Refresh(); !read.ok()) {
      Log(read.ToString());
      pool_.reset();
      return FromStatus(read);
    }
    inits_ = 1;
    return NVML_SUCCESS;
  }

  nvmlReturn_t Shutdown() {
    absl::MutexLock lock(&mu_);
    if (inits_ == 0) return NVML_ERROR_UNINITIALIZED;
    if (--inits_ == 0) pool_.reset();
    return NVML_SUCCESS;
  }

  // Devices leased since the last read show up here too (a program may
  // call nvmlInit before cuInit takes its lease).
  nvmlReturn_t Count(unsigned int* count) {
    if (count == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
    absl::MutexLock lock(&mu_);
    if (inits_ == 0) return NVML_ERROR_UNINITIALIZED;
    RefreshIfStale();
    *count = static_cast<unsigned int>(devices_.size());
    return NVML_SUCCESS;
  }

  nvmlReturn_t ByIndex(unsigned int index, nvmlDevice_t* device) {
    if (device == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
    absl::MutexLock lock(&mu_);
    if (inits_ == 0) return NVML_ERROR_UNINITIALIZED;
    if (index >= devices_.size()) return NVML_ERROR_INVALID_ARGUMENT;
    *device = devices_[index].get();
    return NVML_SUCCESS;
  }

  nvmlReturn_t ByUuid(const char* uuid, nvmlDevice_t* device) {
    if (uuid == nullptr || device == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
    absl::MutexLock lock(&mu_);
    if (inits_ == 0) return NVML_ERROR_UNINITIALIZED;
    for (const std::unique_ptr<nvmlDevice_st>& d : devices_) {
      if (d->device.uuid == uuid) {
        *device = d.get();
        return NVML_SUCCESS;
      }
    }
    return NVML_ERROR_NOT_FOUND;
  }

  // A copy of `device` as it is now; `memory` reads the pool again if the
  // last read is older than a second. A device whose leases ended is lost.
  nvmlReturn_t Read(nvmlDevice_t device, bool memory, nvmlDevice_st* out) {
    if (device == nullptr || out == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
    absl::MutexLock lock(&mu_);
    if (inits_ == 0) return NVML_ERROR_UNINITIALIZED;
    if (!Known(device)) return NVML_ERROR_INVALID_ARGUMENT;
    if (memory) RefreshIfStale();
    if (device->gone) return NVML_ERROR_GPU_IS_LOST;
    *out = *device;
    return NVML_SUCCESS;
  }

 private:
  Library() = default;

  bool Known(nvmlDevice_t device) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const std::unique_ptr<nvmlDevice_st>& d : devices_) {
      if (d.get() == device) return true;
    }
    return false;
  }

  // Reads no more often than once a second, and after failures backs off
  // (2 s, 4 s, ... 30 s) keeping the last figures.
  void RefreshIfStale() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (absl::Now() < next_read_) return;
    if (absl::Status read = Refresh(); !read.ok()) {
      if (failures_ == 1) Log(read.ToString() + " (showing the last figures)");
    }
  }

  // The devices of the leases the token sees now. Records are never freed,
  // so a handle stays valid memory for the process's life: within a
  // session a device seen before keeps its index (and is lost while none
  // of the leases holds it), a new one is added at the end. Each read takes at most kListWithin, with the
  // lock held: the figures are the same for every caller.
  absl::Status Refresh() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    absl::StatusOr<std::vector<accelpool::v1::LeaseInfo>> leases =
        pool_->ListLeases(token_, kListWithin);
    absl::Status status = leases.status();
    if (status.ok()) {
      // An operator's token sees every tenant's leases: those are not the
      // devices of whoever asks.
      for (const accelpool::v1::LeaseInfo& l : *leases) {
        if (l.tenant() != leases->front().tenant()) {
          status = absl::PermissionDeniedError(
              "this token sees several tenants' leases (an operator's?): NVML shows the "
              "devices of one tenant's leases; use that tenant's token");
          break;
        }
      }
    }
    if (!status.ok()) {
      ++failures_;
      next_read_ =
          absl::Now() + std::min(kLongestBackOff, kFreshFor * (1 << std::min(failures_, 5)));
      return status;
    }
    failures_ = 0;
    next_read_ = absl::Now() + kFreshFor;
    std::vector<LeasedDevice> now = LeasedDevices(*leases);
    for (const std::unique_ptr<nvmlDevice_st>& d : devices_) d->gone = true;
    for (LeasedDevice& n : now) {
      nvmlDevice_st* record = nullptr;
      for (const std::unique_ptr<nvmlDevice_st>& d : devices_) {
        if (d->device.id == n.id) record = d.get();
      }
      if (record == nullptr) {
        record = devices_
                     .emplace_back(std::make_unique<nvmlDevice_st>(
                         nvmlDevice_st{static_cast<unsigned>(devices_.size()), {}}))
                     .get();
      }
      record->device = std::move(n);
      record->gone = false;
    }
    return absl::OkStatus();
  }

  absl::Mutex mu_;
  int inits_ ABSL_GUARDED_BY(mu_) = 0;
  std::shared_ptr<client::PoolClient> pool_ ABSL_GUARDED_BY(mu_);
  std::string token_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<nvmlDevice_st>> devices_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<nvmlDevice_st>> retired_ ABSL_GUARDED_BY(mu_);
  absl::Time next_read_ ABSL_GUARDED_BY(mu_);
  int failures_ ABSL_GUARDED_BY(mu_) = 0;
};

nvmlReturn_t CopyText(const std::string& text, char* out, unsigned int length) {
  if (out == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (text.size() + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
  std::memcpy(out, text.c_str(), text.size() + 1);
  return NVML_SUCCESS;
}

}  // namespace
}  // namespace accel::nvml

using accel::nvml::Library;

ACCEL_NVML_EXPORT nvmlReturn_t nvmlInit_v2() { return Library::Get().Init(); }
ACCEL_NVML_EXPORT nvmlReturn_t nvmlInit() { return Library::Get().Init(); }
ACCEL_NVML_EXPORT nvmlReturn_t nvmlInitWithFlags(unsigned int) { return Library::Get().Init(); }
ACCEL_NVML_EXPORT nvmlReturn_t nvmlShutdown() { return Library::Get().Shutdown(); }

ACCEL_NVML_EXPORT const char* nvmlErrorString(nvmlReturn_t result) {
  switch (result) {
    case NVML_SUCCESS:
      return "Success";
    case NVML_ERROR_UNINITIALIZED:
      return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT:
      return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED:
      return "Not Supported";
    case NVML_ERROR_NO_PERMISSION:
      return "Insufficient Permissions";
    case NVML_ERROR_ALREADY_INITIALIZED:
      return "Already Initialized";
    case NVML_ERROR_NOT_FOUND:
      return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE:
      return "Insufficient Size";
    case NVML_ERROR_DRIVER_NOT_LOADED:
      return "Driver Not Loaded";
    case NVML_ERROR_TIMEOUT:
      return "Timeout";
    case NVML_ERROR_FUNCTION_NOT_FOUND:
      return "Function Not Found";
    case NVML_ERROR_GPU_IS_LOST:
      return "GPU is lost";
    case NVML_ERROR_ARGUMENT_VERSION_MISMATCH:
      return "Argument Version Mismatch";
    default:
      return "Unknown Error";
  }
}

// accelpool's version, in the numeric form tools parse.
ACCEL_NVML_EXPORT nvmlReturn_t nvmlSystemGetDriverVersion(char* version, unsigned int length) {
  return accel::nvml::CopyText(ACCEL_NVML_VERSION, version, length);
}
ACCEL_NVML_EXPORT nvmlReturn_t nvmlSystemGetNVMLVersion(char* version, unsigned int length) {
  return accel::nvml::CopyText(ACCEL_NVML_VERSION, version, length);
}
// The CUDA version accelpool's libcuda.so.1 reports, built from the same cuda.h.
ACCEL_NVML_EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion(int* version) {
  if (version == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  *version = CUDA_VERSION;
  return NVML_SUCCESS;
}
ACCEL_NVML_EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int* version) {
  return nvmlSystemGetCudaDriverVersion(version);
}

ACCEL_NVML_EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int* count) {
  return Library::Get().Count(count);
}
ACCEL_NVML_EXPORT nvmlReturn_t nvmlDeviceGetCount(unsigned int* count) {
  return Library::Get().Count(count);
}
ACCEL_NVML_EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index,
                                                             nvmlDevice_t* device) {
  return Library::Get().ByIndex(index, device);
}
ACCEL_NVML_EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index,
                                                          nvmlDevice_t* device) {
  return Library::Get().ByIndex(index, device);
}
ACCEL_NVML_EXPORT nvmlReturn_t nvmlDeviceGetHandleByUUID(const char* uuid, nvmlDevice_t* device) {
  return Library::Get().ByUuid(uuid, device);
}

ACCEL_NVML_EXPORT nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int* index) {
  if (index == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  nvmlDevice_st d;
  const nvmlReturn_t r = Library::Get().Read(device, false, &d);
  if (r == NVML_SUCCESS) *index = d.index;
  return r;
}
ACCEL_NVML_EXPORT nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char* name,
                                                 unsigned int length) {
  nvmlDevice_st d;
  const nvmlReturn_t r = Library::Get().Read(device, false, &d);
  return r == NVML_SUCCESS ? accel::nvml::CopyText(d.device.name, name, length) : r;
}
ACCEL_NVML_EXPORT nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char* uuid,
                                                 unsigned int length) {
  nvmlDevice_st d;
  const nvmlReturn_t r = Library::Get().Read(device, false, &d);
  return r == NVML_SUCCESS ? accel::nvml::CopyText(d.device.uuid, uuid, length) : r;
}

// What the caller's leases may use of the device (their quotas), and use.
ACCEL_NVML_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t* memory) {
  if (memory == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  nvmlDevice_st d;
  const nvmlReturn_t r = Library::Get().Read(device, true, &d);
  if (r != NVML_SUCCESS) return r;
  memory->total = d.device.total_memory;
  memory->used = d.device.used_memory;
  memory->free = d.device.total_memory - d.device.used_memory;
  return NVML_SUCCESS;
}
ACCEL_NVML_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device,
                                                          nvmlMemory_v2_t* memory) {
  if (memory == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (memory->version != nvmlMemory_v2) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
  nvmlMemory_t v1;
  const nvmlReturn_t r = nvmlDeviceGetMemoryInfo(device, &v1);
  if (r != NVML_SUCCESS) return r;
  memory->total = v1.total;
  memory->reserved = 0;
  memory->free = v1.free;
  memory->used = v1.used;
  return NVML_SUCCESS;
}

ACCEL_NVML_EXPORT nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device,
                                                             nvmlUtilization_t* utilization) {
  if (utilization == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  nvmlDevice_st d;
  const nvmlReturn_t r = Library::Get().Read(device, false, &d);
  return r == NVML_SUCCESS ? NVML_ERROR_NOT_SUPPORTED : r;
}

// What the pool does not know of its devices, for programs that link
// against these names: an answer, never a missing symbol.
#define ACCEL_NVML_NOT_SUPPORTED(name, ...)                               \
  ACCEL_NVML_EXPORT nvmlReturn_t name(nvmlDevice_t device, __VA_ARGS__) { \
    nvmlDevice_st d;                                                      \
    const nvmlReturn_t r = Library::Get().Read(device, false, &d);        \
    return r == NVML_SUCCESS ? NVML_ERROR_NOT_SUPPORTED : r;              \
  }
ACCEL_NVML_NOT_SUPPORTED(nvmlDeviceGetPciInfo_v3, void*)
ACCEL_NVML_NOT_SUPPORTED(nvmlDeviceGetComputeRunningProcesses_v3, unsigned int*, void*)
ACCEL_NVML_NOT_SUPPORTED(nvmlDeviceGetTemperature, int, unsigned int*)
ACCEL_NVML_NOT_SUPPORTED(nvmlDeviceGetPowerUsage, unsigned int*)
ACCEL_NVML_NOT_SUPPORTED(nvmlDeviceGetMinorNumber, unsigned int*)
ACCEL_NVML_NOT_SUPPORTED(nvmlDeviceGetCudaComputeCapability, int*, int*)
