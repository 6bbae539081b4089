// The AMD/Hygon ROCm backend: HIP devices through the HIP runtime, loaded at
// run time (libamdhip64.so, or ACCEL_HIP_LIBRARY, e.g. Hygon DTK's runtime).
//
// Opening never fails for lack of a driver or device: the backend then has
// no devices and says why, with one of three distinct reasons:
//   "no driver: cannot load <library> (<dlerror>)"
//   "init failed: hipInit returned <name> (<n>): <string>"
//   "driver present but no device: ..."
//
// Options (backend_open) override the environment:
//   library / ACCEL_HIP_LIBRARY   the HIP runtime to load (default libamdhip64.so)
#include <unistd.h>

#include <cstdlib>
#include <vector>

#include "absl/strings/str_cat.h"
#include "accel/hal/plugin/backend_interface.h"
#include "hip_api.h"
#include "hip_error.h"
#include "rocm_device.h"

namespace accel::rocm {
namespace {

constexpr const char* kDefaultLibrary = "libamdhip64.so";
// The ROCm kernel driver's device node: every HIP device is reached through it.
constexpr const char* kKfdNode = "/dev/kfd";

class RocmBackend : public hal::plugin::BackendImpl {
 public:
  // No devices, for `reason`.
  explicit RocmBackend(std::string reason) : reason_(std::move(reason)) {}
  RocmBackend(std::unique_ptr<HipApi> api, std::vector<std::unique_ptr<RocmDevice>> devices)
      : api_(std::move(api)), devices_(std::move(devices)) {}

  const std::string& unavailable_reason() const override { return reason_; }
  uint32_t device_count() const override { return static_cast<uint32_t>(devices_.size()); }
  hal::plugin::DeviceImpl& device(uint32_t index) override { return *devices_[index]; }

 private:
  std::unique_ptr<HipApi> api_;  // outlives the devices, which refer to it
  std::vector<std::unique_ptr<RocmDevice>> devices_;
  std::string reason_;
};

std::string LibraryToLoad(const hal::plugin::BackendOptions& options) {
  if (auto it = options.find("library"); it != options.end() && !it->second.empty()) {
    return it->second;
  }
  const char* env = std::getenv("ACCEL_HIP_LIBRARY");
  return env != nullptr && *env != '\0' ? env : kDefaultLibrary;
}

// Why HIP saw no device, from the kernel side: hipInit's error alone does
// not tell a missing kernel driver from a permission problem.
std::string KfdHint() {
  if (access(kKfdNode, F_OK) != 0) {
    return absl::StrCat("; ", kKfdNode, " is absent (the amdgpu kernel driver is not loaded here)");
  }
  return "";
}

// The reason HIP did not initialize, or "" when it did with devices.
// `init` is hipInit's result, `count_error` and `count` hipGetDeviceCount's.
std::string UnavailableReason(const HipApi& api, hipError_t init, hipError_t count_error,
                              int count) {
  const bool no_device =
      count_error == hipErrorNoDevice || (count_error == hipSuccess && count <= 0);
  if (init != hipSuccess) {
    // ROCm 5 answers hipInit with hipErrorInvalidDevice (or hipErrorNoDevice)
    // when the runtime finds no GPU, and hipGetDeviceCount then says
    // hipErrorNoDevice: that is a working driver stack without a device, as
    // long as the device node is usable. Anything else is a failed init.
    const bool kfd_unusable = access(kKfdNode, F_OK) == 0 && access(kKfdNode, R_OK | W_OK) != 0;
    if (no_device && !kfd_unusable && (init == hipErrorNoDevice || init == hipErrorInvalidDevice)) {
      return absl::StrCat("driver present but no device: ", api.library,
                          " loaded, hipInit returned ", Describe(api, init),
                          ", hipGetDeviceCount returned ", Describe(api, count_error), KfdHint());
    }
    std::string reason = absl::StrCat("init failed: hipInit returned ", Describe(api, init));
    if (kfd_unusable) {
      absl::StrAppend(&reason, "; ", kKfdNode,
                      " is not readable and writable by this user (join the 'render' and "
                      "'video' groups)");
    }
    return reason;
  }
  if (no_device) {
    return absl::StrCat(
        "driver present but no device: ", api.library, " loaded, hipGetDeviceCount returned ",
        count_error == hipSuccess ? std::string("0 devices") : Describe(api, count_error),
        KfdHint());
  }
  if (count_error != hipSuccess) {
    return absl::StrCat("init failed: hipGetDeviceCount returned ", Describe(api, count_error));
  }
  return "";
}

absl::StatusOr<std::unique_ptr<hal::plugin::BackendImpl>> CreateRocmBackend(
    const hal::plugin::BackendOptions& options) {
  const std::string library = LibraryToLoad(options);
  absl::StatusOr<std::unique_ptr<HipApi>> api = HipApi::Load(library);
  if (!api.ok()) {
    // Absent, or present but not a usable HIP runtime: either way no driver.
    return std::make_unique<RocmBackend>(absl::StrCat("no driver: ", api.status().message()));
  }
  const HipApi& hip = **api;
  const hipError_t init = hip.hipInit(0);
  int count = 0;
  const hipError_t count_error = hip.hipGetDeviceCount(&count);
  if (std::string reason = UnavailableReason(hip, init, count_error, count); !reason.empty()) {
    return std::make_unique<RocmBackend>(std::move(reason));
  }
  std::vector<std::unique_ptr<RocmDevice>> devices;
  absl::Status first_error;
  for (int ordinal = 0; ordinal < count; ++ordinal) {
    absl::StatusOr<std::unique_ptr<RocmDevice>> device = RocmDevice::Open(hip, ordinal);
    if (device.ok()) {
      devices.push_back(std::move(*device));
    } else if (first_error.ok()) {
      // A device we cannot describe is left out; the rest stay usable.
      first_error = device.status();
    }
  }
  if (devices.empty()) {
    return std::make_unique<RocmBackend>(
        absl::StrCat("init failed: no HIP device could be opened: ", first_error.message()));
  }
  return std::make_unique<RocmBackend>(std::move(*api), std::move(devices));
}

}  // namespace
}  // namespace accel::rocm

ACCEL_DEFINE_BACKEND("rocm", accel::rocm::CreateRocmBackend)
