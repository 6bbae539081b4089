// The coordinator: the pool's registry of nodes and devices, and the lease
// table. Leases have a TTL renewed by the holder's heartbeat; a reaper ends
// the ones that lapse and tells the node, which frees everything the lease
// held.
#ifndef ACCEL_POOL_COORDINATOR_COORDINATOR_H_
#define ACCEL_POOL_COORDINATOR_COORDINATOR_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "pool/common/node_coordination.h"
#include "pool/common/wire.h"

namespace accel::pool {

class Coordinator : public LeaseAuthority {
 public:
  struct Options {
    uint32_t default_ttl_seconds = 30;
    uint32_t max_ttl_seconds = 3600;
    // How often lapsed leases and silent nodes are looked for.
    std::chrono::milliseconds reap_interval{200};
    // Remote nodes heartbeat this often; one that misses `node_lost_after`
    // heartbeats in a row is lost and its leases end.
    std::chrono::milliseconds node_heartbeat{1000};
    int node_lost_after = 3;
    // Remote nodes must present this secret to register; empty: only nodes
    // on this host (loopback) may register.
    std::string join_token;
  };

  // What a remote node gets for registering.
  struct Registration {
    uint64_t generation = 0;  // names this registration in later calls
    std::string node_secret;
    // Leases the node reported open that the pool no longer has: the node
    // ends their sessions.
    std::vector<std::string> stale_leases;
  };

  explicit Coordinator(Options options);
  ~Coordinator();  // Stop()s
  // Stops the reaper: no listener is called after this returns. Call it
  // before the listeners go away.
  void Stop();
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  // Registers the node in this process and its devices (DeviceInfo.id/node
  // are filled in). `listener` must outlive Stop(). It never goes lost.
  void AddNode(const std::string& name, const std::string& address,
               const std::map<std::string, std::string>& labels,
               std::vector<v1::DeviceInfo> devices, LeaseListener* listener);

  // A node-mode poold (re)registers over its NodeLink, from `peer`. A node
  // that registers again under its name replaces its old registration and
  // devices: nothing is duplicated.
  absl::StatusOr<Registration> RegisterNode(const v1::NodeHello& hello, const std::string& peer,
                                            std::shared_ptr<LeaseListener> listener);
  void NodeHeartbeat(const std::string& node, uint64_t generation);
  // The registration's link broke: the node is lost and its leases end.
  void NodeLinkLost(const std::string& node, uint64_t generation, const std::string& why);
  // OK if `secret` is the live registration's secret for `node`.
  absl::Status CheckNodeSecret(const std::string& node, const std::string& secret);

  absl::StatusOr<v1::LeaseResponse> Lease(const v1::LeaseRequest& request);
  absl::StatusOr<int64_t> Renew(const std::string& lease_id, const std::string& token);
  absl::Status Release(const std::string& lease_id, const std::string& token);
  absl::Status AdminRelease(const std::string& lease_id);
  // LeaseAuthority, for nodes. A closed session ends its lease.
  absl::StatusOr<v1::LeaseInfo> Admit(const std::string& lease_id, const std::string& token,
                                      const std::string& node) override;
  void ReportUsage(const std::string& node, const std::string& lease_id,
                   uint64_t memory_in_use) override;
  void ReportSession(const std::string& node, const std::string& lease_id, bool open) override;

  // For metrics.
  struct Counts {
    size_t active_leases = 0;
    uint64_t granted = 0;
    std::map<std::string, uint64_t> refused;  // by canonical code
    std::map<std::string, uint64_t> ended;    // by reason
  };
  Counts counts();

  std::vector<v1::NodeInfo> ListNodes();
  std::vector<v1::DeviceInfo> ListDevices();
  std::vector<v1::LeaseInfo> ListLeases();
  absl::Status Drain(const std::string& node, bool undrain);

 private:
  struct Node {
    v1::NodeInfo info;     // state: "lost" if lost, else "draining" if drained, else "ready"
    bool drained = false;  // an operator's drain outlives losing and re-registering
    std::vector<v1::DeviceInfo> devices;
    uint32_t free = 0;  // devices no lease holds: full nodes are skipped unexamined
    std::shared_ptr<LeaseListener> listener;
    bool remote = false;   // registered over a NodeLink, heartbeats
    std::string instance;  // the registered process
    uint64_t generation = 0;
    std::string secret;
    std::chrono::steady_clock::time_point last_heartbeat;
  };
  struct LeaseRecord {
    v1::LeaseInfo info;
    std::string token;
    std::chrono::steady_clock::time_point expires;
  };

  void ReapLoop();
  void RecountFreeLocked(Node& node) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Node& AddNodeLocked(const std::string& name, const std::string& address,
                      const std::map<std::string, std::string>& labels,
                      std::vector<v1::DeviceInfo> devices) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends the lease (lock held), remembering `why` for its holder's next
  // renewal; returns the listener to notify after unlocking.
  // `reason` counts the end in metrics: released, revoked, expired,
  // session_closed, node_lost.
  std::shared_ptr<LeaseListener> EndLocked(const std::string& lease_id, const absl::Status& why,
                                           const char* reason) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Lease() without the counting.
  absl::StatusOr<v1::LeaseResponse> Place(const v1::LeaseRequest& request);
  // What to tell a listener once the lock is released.
  struct Notice {
    std::shared_ptr<LeaseListener> listener;
    std::string lease_id;  // empty: the node itself was lost
    absl::Status why;
  };
  static void Deliver(std::vector<Notice>& notices);
  // Marks the node lost and ends its leases; their holders see `why`, and
  // the node's listener hears of each lease and then of the loss.
  void LoseNodeLocked(Node& node, const std::string& why, std::vector<Notice>& notices)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static int64_t NowUnixMs();

  const Options options_;
  absl::Mutex mu_;
  std::map<std::string, Node> nodes_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, LeaseRecord> leases_ ABSL_GUARDED_BY(mu_);
  // Why recently ended leases ended, with their tokens (only the holder
  // learns why), oldest first; bounded.
  struct Ended {
    std::string token;
    absl::Status why;
  };
  std::map<std::string, Ended> ended_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> ended_order_ ABSL_GUARDED_BY(mu_);
  // Pool device id -> lease id holding it.
  absl::flat_hash_map<std::string, std::string> device_holder_ ABSL_GUARDED_BY(mu_);
  uint64_t next_generation_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t granted_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, uint64_t> refused_by_code_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, uint64_t> ended_by_reason_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread reaper_;
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_COORDINATOR_COORDINATOR_H_
