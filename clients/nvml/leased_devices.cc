#include "clients/nvml/leased_devices.h"

#include <algorithm>
#include <map>

#include "absl/numeric/int128.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace accel::nvml {
namespace {

// A stable UUID for a device that reports none (some backends do): from
// its pool id, so that it differs from every other device's.
std::string UuidOf(const std::string& id) {
  uint64_t a = 14695981039346656037ull, b = 0x9e3779b97f4a7c15ull;  // FNV-1a, two seeds
  for (unsigned char c : id) {
    a = (a ^ c) * 1099511628211ull;
    b = (b ^ c) * 1099511628211ull;
  }
  const std::string hex =
      absl::StrCat(absl::Hex(a, absl::kZeroPad16), absl::Hex(b, absl::kZeroPad16));
  return absl::StrCat(hex.substr(0, 8), "-", hex.substr(8, 4), "-", hex.substr(12, 4), "-",
                      hex.substr(16, 4), "-", hex.substr(20, 12));
}

}  // namespace

std::vector<LeasedDevice> LeasedDevices(const std::vector<accelpool::v1::LeaseInfo>& leases) {
  std::vector<LeasedDevice> out;
  std::map<std::string, size_t> index;
  for (const accelpool::v1::LeaseInfo& lease : leases) {
    if (lease.state() != "active") continue;  // a queued request holds nothing yet
    absl::uint128 quotas = 0;                 // no wrap, however many devices
    for (const accelpool::v1::LeasedDevice& d : lease.devices()) quotas += d.memory_quota();
    for (const accelpool::v1::LeasedDevice& d : lease.devices()) {
      auto [at, added] = index.emplace(d.device().id(), out.size());
      if (added) {
        LeasedDevice& device = out.emplace_back();
        device.id = d.device().id();
        // As NVML's 64-byte name buffers hold it.
        device.name = d.device().name().substr(0, 63);
        const std::string& uuid = d.device().uuid();
        device.uuid = absl::StartsWith(uuid, "GPU-") || absl::StartsWith(uuid, "MIG-")
                          ? uuid
                          : "GPU-" + (uuid.empty() ? UuidOf(device.id) : uuid);
      }
      LeasedDevice& device = out[at->second];
      device.total_memory += d.memory_quota();
      // Its share of the lease's use, in 128-bit arithmetic: quotas are up
      // to terabytes, and their product overflows 64 bits.
      const uint64_t share = quotas == 0 ? 0
                                         : absl::Uint128Low64(absl::uint128(lease.memory_in_use()) *
                                                              d.memory_quota() / quotas);
      device.used_memory += std::min(share, d.memory_quota());
    }
  }
  return out;
}

}  // namespace accel::nvml
