// The `remote` backend: devices leased from an accelpool pool, used through
// the HAL exactly like local ones.
//
// Options (or environment when absent):
//   pool / ACCEL_POOL                 the coordinators: host:port[,host:port...]
//   devices / ACCEL_POOL_DEVICES      how many devices to lease (default 1)
//   backend, vendor, arch             constraints on the devices
//   min_memory                        e.g. "8GiB": each device at least this large
//   labels                            "zone=a,team=risk": every label must match
//   ttl                               lease TTL in seconds (default: the pool's)
//   holder                            who holds the lease (default user@host pid)
//   token / ACCEL_POOL_TOKEN          the tenant's bearer token, in pools with tenants
//   memory / ACCEL_POOL_MEMORY        fractional lease: this much of each device ("4GiB")
//   compute_weight                    a fractional lease's compute share (default 1)
//   policy                            placement: binpack or spread (default: the pool's)
//   wait / ACCEL_POOL_WAIT            seconds to wait in the pool's queue when it is full
//   across_nodes                      "1": several devices may come from several nodes
//   lease                             an already granted lease (hex of LeaseResponse)
#ifndef ACCEL_CLIENTS_REMOTE_REMOTE_BACKEND_H_
#define ACCEL_CLIENTS_REMOTE_REMOTE_BACKEND_H_

#include <string>

#include "accel/hal/plugin_abi.h"

namespace accel::client {

// "user@host pid N": who holds a lease, for operators' listings.
std::string DefaultHolder();

// The backend's C table, for the plugin library and for in-process use.
const AccelBackendApi* RemoteBackendApi(uint32_t hal_abi_major);

}  // namespace accel::client

#endif  // ACCEL_CLIENTS_REMOTE_REMOTE_BACKEND_H_
