// What the dashboard shows, read in one go from the coordinator that leads
// (or, on a standby, where the leader is).
#ifndef ACCEL_POOL_COORDINATOR_DASHBOARD_DASHBOARD_STATE_H_
#define ACCEL_POOL_COORDINATOR_DASHBOARD_DASHBOARD_STATE_H_

#include <cstdint>

#include "pool/coordinator/dashboard/pool_history.h"
#include "pool/coordinator/leadership.h"
#include "pool/proto/dashboard.pb.h"

namespace accel::pool {

// Nodes, devices, tenants and the history whole; live and queued leases up
// to `lease_limit` each (a pool may hold 100k: the counts say how many).
v1::DashboardState ReadDashboardState(Leadership& leadership, const PoolHistory& history,
                                      uint32_t lease_limit);

}  // namespace accel::pool

#endif  // ACCEL_POOL_COORDINATOR_DASHBOARD_DASHBOARD_STATE_H_
