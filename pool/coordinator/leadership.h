// Which Coordinator serves the pool's calls now. A pool with one
// coordinator (state in memory or SQLite) always has it. In a highly
// available pool (state in etcd) every coordinator process competes in an
// election; the one elected gets a fresh Coordinator for its term, restored
// from etcd, and loses it when the term ends. The others are standbys:
// their calls are answered UNAVAILABLE, naming where the leader is.
#ifndef ACCEL_POOL_COORDINATOR_LEADERSHIP_H_
#define ACCEL_POOL_COORDINATOR_LEADERSHIP_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "pool/coordinator/coordinator.h"

namespace accel::pool {

// What a coordinator process knows of the pool's control plane.
struct ControlPlaneView {
  std::string role;                               // "leader", "standby", "electing"
  std::string leader_address;                     // "" when unknown
  std::string state_store;                        // "memory", "sqlite PATH", "etcd A,B,C/prefix"
  absl::Status store_health;                      // the last trouble with the store, OK if none
  std::chrono::microseconds store_round_trip{0};  // of its last call
  // Every coordinator of an elected pool, the leader first.
  std::vector<std::string> coordinators;
};

// The view as GetControlPlane answers it: where the leader is, for every
// caller; the state store and the other coordinators only for operators.
v1::ControlPlaneResponse ControlPlaneAnswer(const ControlPlaneView& view, bool for_operator);

// It is also the authority of this process's own sessions, if it serves
// devices: whichever coordinator leads admits them.
class Leadership final : public LeaseAuthority {
 public:
  // A pool whose only coordinator this is.
  Leadership(std::shared_ptr<Coordinator> coordinator, std::string state_store);
  // An elected one: `view` says where the leader is while this process has
  // no term.
  explicit Leadership(std::function<ControlPlaneView()> view);

  // The term begins, or ends (returning the term's coordinator, to stop).
  void Install(std::shared_ptr<Coordinator> coordinator);
  std::shared_ptr<Coordinator> Remove();

  // The coordinator serving now, or UNAVAILABLE: "this coordinator is a
  // standby; the pool's leader is at ADDRESS" (or that one is being elected).
  absl::StatusOr<std::shared_ptr<Coordinator>> Current() const;
  ControlPlaneView view() const;

  // LeaseAuthority: forwarded to the coordinator that leads.
  absl::StatusOr<v1::LeaseInfo> Admit(const std::string& lease_id, const std::string& token,
                                      const std::string& node) override;
  void ReportUsage(const std::string& node, const v1::LeaseUsage& usage) override;
  void ReportSession(const std::string& node, const std::string& lease_id, bool open) override;

 private:
  const std::function<ControlPlaneView()> view_;
  const std::string fixed_store_;  // the one coordinator's store, without election
  mutable absl::Mutex mu_;
  std::shared_ptr<Coordinator> current_ ABSL_GUARDED_BY(mu_);
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_COORDINATOR_LEADERSHIP_H_
