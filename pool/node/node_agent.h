// The node agent: serves this host's HAL devices to lease holders. It admits
// sessions (checking the lease with the coordinator), maps the lease's
// devices to local ones, and ends sessions whose lease ends.
#ifndef ACCEL_POOL_NODE_NODE_AGENT_H_
#define ACCEL_POOL_NODE_NODE_AGENT_H_

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "accel/hal/hal.h"
#include "pool/common/node_coordination.h"
#include "pool/node/compute_shares.h"
#include "pool/node/session_process.h"

namespace accel::pool {

class NodeAgent : public LeaseListener {
 public:
  struct Options {
    std::string name = "node";
    bool allow_host_kernels = false;
    // Each session's module images, kept by its worker.
    uint64_t module_cache_bytes = 256ull << 20;
    // The session worker program; empty: accel-session-worker beside this
    // program.
    std::string worker_path;
    // How the node's HAL registry was configured (host backend sizes):
    // workers open their devices the same way.
    std::map<std::string, std::map<std::string, std::string>> backend_options;
    // The longest one launch may run, on a device the lease holds alone
    // and on a shared one (zero: no limit). Longer, and the session ends.
    std::chrono::milliseconds max_kernel_time{0};
    std::chrono::milliseconds max_shared_kernel_time{std::chrono::seconds(60)};
    // Sessions open at once on this node: each is a worker process.
    size_t max_sessions = 256;
    std::map<std::string, std::string> labels;  // the node's: on every device
    // Per device, by "<backend>:<index>"; added to (and override) the node's.
    std::map<std::string, std::map<std::string, std::string>> device_labels;
  };

  // `authority` admits sessions: the coordinator itself, or its link.
  NodeAgent(Options options, std::vector<hal::Device> devices, LeaseAuthority& authority);

  // The devices this node offers, for registration with the coordinator.
  std::vector<v1::DeviceInfo> DeviceInfos() const;
  // The vendor's attributes of the lease's devices on this node, into a
  // session's first answer (SessionResponse.native_attributes).
  void AddNativeAttributes(const v1::LeaseInfo& lease, v1::SessionResponse& hello) const;

  // Admits a session for the lease, talking to the client through `link`.
  absl::StatusOr<std::shared_ptr<SessionProcess>> Open(const std::string& lease_id,
                                                       const std::string& token,
                                                       std::shared_ptr<SessionLink> link);
  // The connection is gone: drops the session, frees everything it holds,
  // then tells the coordinator (which ends the lease).
  void Close(std::shared_ptr<SessionProcess> session);

  void OnLeaseEnded(const std::string& lease_id, const absl::Status& why) override;
  // Ends every session and refuses new ones (the node is shutting down).
  void EndAll(const absl::Status& why);
  // Sessions opened from now on offer a bulk channel on `port`.
  void OfferBulkChannel(uint16_t port);
  uint16_t bulk_port() const { return bulk_port_; }
  // A bulk connection presented `key`: hands `socket` to its session.
  bool AttachBulk(const std::string& key, std::unique_ptr<BulkSocket>& socket);
  // Leases with an open session here, for re-registering with a coordinator.
  std::vector<std::string> OpenLeases();

 private:
  const Options options_;
  const std::vector<hal::Device> devices_;
  // One per device, in the same order: fractional leases share them.
  std::vector<std::shared_ptr<ComputeShares>> shares_;
  LeaseAuthority& authority_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<SessionProcess>> sessions_ ABSL_GUARDED_BY(mu_);
  // Bulk keys not yet used -> lease id.
  std::map<std::string, std::string> bulk_keys_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint16_t> bulk_port_{0};
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  // Leases that ended while this node had no session for them (recent
  // ones, oldest first): a session still opening for one is refused.
  std::set<std::string> ended_unopened_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> ended_unopened_order_ ABSL_GUARDED_BY(mu_);
  bool closing();
  // The index in devices_ of `device`, where it is one of this node's.
  std::optional<size_t> LocalIndex(const v1::DeviceInfo& device) const;
  // RESOURCE_EXHAUSTED when the node serves its maximum of sessions.
  absl::Status RoomForASessionLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_NODE_NODE_AGENT_H_
