#include "pool/coordinator/dashboard/dashboard_state.h"

#include <utility>

#include "absl/time/clock.h"

namespace accel::pool {
namespace {

// Up to `limit` leases from `page_token` on, stopping where the state
// changes (live leases are listed before queued ones).
void AddLeases(Coordinator& coordinator, const Caller& caller, const char* page_token,
               const char* state, uint32_t limit,
               google::protobuf::RepeatedPtrField<v1::LeaseInfo>& out) {
  absl::StatusOr<Coordinator::LeasePage> page = coordinator.ListLeases(caller, limit, page_token);
  if (!page.ok()) return;  // the tokens are this function's own
  for (v1::LeaseInfo& lease : page->leases) {
    if (lease.state() != state) break;
    *out.Add() = std::move(lease);
  }
}

}  // namespace

v1::DashboardState ReadDashboardState(Leadership& leadership, const PoolHistory& history,
                                      uint32_t lease_limit) {
  v1::DashboardState state;
  state.set_generated_unix_ms(absl::ToUnixMillis(absl::Now()));
  // The dashboard is the operator's.
  *state.mutable_control_plane() = ControlPlaneAnswer(leadership.view(), /*for_operator=*/true);
  state.set_lease_limit(lease_limit);
  state.set_history_interval_seconds(static_cast<uint32_t>(history.interval().count()));
  absl::StatusOr<std::shared_ptr<Coordinator>> leading = leadership.Current();
  if (!leading.ok()) {
    state.set_notice(std::string(leading.status().message()));
    return state;
  }
  Coordinator& coordinator = **leading;
  const Caller everyone{"", true, "the dashboard"};
  for (v1::NodeInfo& n : coordinator.ListNodes()) *state.add_nodes() = std::move(n);
  for (v1::DeviceInfo& d : coordinator.ListDevices()) *state.add_devices() = std::move(d);
  const Coordinator::Counts counts = coordinator.counts();
  state.set_active_leases(static_cast<uint32_t>(counts.active_leases));
  state.set_queued_leases(static_cast<uint32_t>(counts.queued_leases));
  AddLeases(coordinator, everyone, "", "active", lease_limit, *state.mutable_leases());
  AddLeases(coordinator, everyone, "q", "queued", lease_limit, *state.mutable_queue());
  for (v1::TenantInfo& t : coordinator.ListTenants(everyone)) *state.add_tenants() = std::move(t);
  // The charts end at this moment, not at the last sample.
  for (v1::DashboardSample& s : history.Samples()) *state.add_history() = std::move(s);
  *state.add_history() = SamplePool(coordinator);
  return state;
}

}  // namespace accel::pool
