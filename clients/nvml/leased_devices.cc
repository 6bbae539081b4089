#include "clients/nvml/leased_devices.h"

#include <algorithm>
#include <map>

#include "absl/strings/match.h"

namespace accel::nvml {

std::vector<LeasedDevice> LeasedDevices(const std::vector<accelpool::v1::LeaseInfo>& leases) {
  std::vector<LeasedDevice> out;
  std::map<std::string, size_t> index;
  for (const accelpool::v1::LeaseInfo& lease : leases) {
    if (lease.state() != "active") continue;  // a queued request holds nothing yet
    uint64_t quotas = 0;
    for (const accelpool::v1::LeasedDevice& d : lease.devices()) quotas += d.memory_quota();
    for (const accelpool::v1::LeasedDevice& d : lease.devices()) {
      auto [at, added] = index.emplace(d.device().id(), out.size());
      if (added) {
        LeasedDevice& device = out.emplace_back();
        device.id = d.device().id();
        device.name = d.device().name();
        const std::string& uuid = d.device().uuid();
        device.uuid =
            absl::StartsWith(uuid, "GPU-") || absl::StartsWith(uuid, "MIG-") ? uuid : "GPU-" + uuid;
      }
      LeasedDevice& device = out[at->second];
      device.total_memory += d.memory_quota();
      // Its share of the lease's use, in 128-bit arithmetic: quotas are up
      // to terabytes, and their product overflows 64 bits.
      const uint64_t share =
          quotas == 0
              ? 0
              : static_cast<uint64_t>(static_cast<unsigned __int128>(lease.memory_in_use()) *
                                      d.memory_quota() / quotas);
      device.used_memory += std::min(share, d.memory_quota());
    }
  }
  return out;
}

}  // namespace accel::nvml
