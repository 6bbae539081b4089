#include "pool/coordinator/leadership.h"

#include "absl/strings/str_cat.h"

namespace accel::pool {

v1::ControlPlaneResponse ControlPlaneAnswer(const ControlPlaneView& view, bool for_operator) {
  v1::ControlPlaneResponse out;
  out.set_role(view.role);
  out.set_leader_address(view.leader_address);
  if (!for_operator) return out;
  out.set_state_store(view.state_store);
  if (!view.store_health.ok()) out.set_store_status(view.store_health.ToString());
  out.set_store_round_trip_us(view.store_round_trip.count());
  for (const std::string& address : view.coordinators) out.add_coordinators(address);
  return out;
}

Leadership::Leadership(std::shared_ptr<Coordinator> coordinator, std::string state_store)
    : fixed_store_(std::move(state_store)), current_(std::move(coordinator)) {}

Leadership::Leadership(std::function<ControlPlaneView()> view) : view_(std::move(view)) {}

void Leadership::Install(std::shared_ptr<Coordinator> coordinator) {
  absl::MutexLock lock(&mu_);
  current_ = std::move(coordinator);
}

std::shared_ptr<Coordinator> Leadership::Remove() {
  absl::MutexLock lock(&mu_);
  return std::move(current_);
}

absl::StatusOr<std::shared_ptr<Coordinator>> Leadership::Current() const {
  {
    absl::MutexLock lock(&mu_);
    if (current_ != nullptr) return current_;
  }
  const ControlPlaneView v = view();
  if (!v.leader_address.empty() && v.role != "leader") {
    return absl::UnavailableError(
        absl::StrCat("this coordinator is a standby; the pool's leader is at ", v.leader_address));
  }
  return absl::UnavailableError(
      absl::StrCat("the pool has no leader right now (one is being elected)",
                   v.store_health.ok() ? "" : absl::StrCat(": ", v.store_health.message())));
}

ControlPlaneView Leadership::view() const {
  if (!view_) {
    ControlPlaneView fixed;
    fixed.role = "leader";
    fixed.state_store = fixed_store_;
    return fixed;
  }
  return view_();
}

absl::StatusOr<v1::LeaseInfo> Leadership::Admit(const std::string& lease_id,
                                                const std::string& token, const std::string& node) {
  absl::StatusOr<std::shared_ptr<Coordinator>> coordinator = Current();
  if (!coordinator.ok()) return coordinator.status();
  return (*coordinator)->Admit(lease_id, token, node);
}

void Leadership::ReportUsage(const std::string& node, const v1::LeaseUsage& usage) {
  if (absl::StatusOr<std::shared_ptr<Coordinator>> c = Current(); c.ok()) {
    (*c)->ReportUsage(node, usage);
  }
}

void Leadership::ReportSession(const std::string& node, const std::string& lease_id, bool open) {
  if (absl::StatusOr<std::shared_ptr<Coordinator>> c = Current(); c.ok()) {
    (*c)->ReportSession(node, lease_id, open);
  }
}

}  // namespace accel::pool
