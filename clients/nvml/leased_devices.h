// The devices NVML shows: those of the live leases the caller's token sees
// (a tenant's own; in a pool without tenants, every anonymous lease), one
// record per device however many of those leases share it.
#ifndef ACCEL_CLIENTS_NVML_LEASED_DEVICES_H_
#define ACCEL_CLIENTS_NVML_LEASED_DEVICES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "pool/common/wire.h"

namespace accel::nvml {

struct LeasedDevice {
  std::string id;    // the pool's: "<node>/<backend>:<index>"
  std::string name;  // the device's own
  std::string uuid;  // NVML's form: GPU-...
  // What the leases may use of it (their quotas) and what they use.
  uint64_t total_memory = 0;
  uint64_t used_memory = 0;
};

// In order of first appearance in `leases`. A lease's memory in use is the
// node's figure for the whole lease; across several devices it is split in
// proportion to their quotas.
std::vector<LeasedDevice> LeasedDevices(const std::vector<accelpool::v1::LeaseInfo>& leases);

}  // namespace accel::nvml

#endif  // ACCEL_CLIENTS_NVML_LEASED_DEVICES_H_
