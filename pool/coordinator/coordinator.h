// The coordinator: the pool's registry of nodes and devices, its tenants,
// and the lease table. Leases have a TTL renewed by the holder's heartbeat;
// a reaper ends the ones that lapse and tells the node, which frees
// everything the lease held. Requests that do not fit wait in a queue
// ordered by their tenant's priority, then age (coordinator_placement.cc).
#ifndef ACCEL_POOL_COORDINATOR_COORDINATOR_H_
#define ACCEL_POOL_COORDINATOR_COORDINATOR_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "pool/common/audit_log.h"
#include "pool/common/node_coordination.h"
#include "pool/common/wire.h"
#include "pool/coordinator/state_store.h"
#include "pool/coordinator/tenant_registry.h"

namespace accel::pool {

// Who makes a call, from its bearer token and where it comes from.
struct Caller {
  std::string tenant;        // "" = none: a pool without tenants, or an operator
  bool is_operator = false;  // sees and changes everything
  std::string identity;      // who, in words: "tenant risk", "the operator token", ...
};

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
    // Nodes must present a client certificate the pool's CA signed, naming
    // the node (poold --tls_client_ca).
    bool require_node_certificates = false;
    // Each node's own join secret, by node name (SHA-256 hex; poold
    // --node_tokens): a listed node must present its own, not the shared one.
    std::map<std::string, std::string> node_token_sha256;
    // Where leases, refusals, ends, node joins and losses are recorded
    // (poold --audit_log); null: nowhere. It must outlive the coordinator.
    AuditLog* audit = nullptr;
    std::string join_token;
    // Operators present a token with this SHA-256 (hex); empty: callers on
    // this host without a token are operators.
    std::string operator_token_sha256;
    // "binpack" or "spread", for requests that name no policy.
    std::string default_policy = "binpack";
    // A queued request that has waited this long stops the ones behind it
    // from taking the room it needs: large requests are not starved by a
    // stream of small ones.
    std::chrono::milliseconds starvation_after{30000};
    // Requests that may wait at once, pool-wide.
    size_t max_queued = 1000;
    uint32_t max_wait_seconds = 3600;
    // Live and queued leases of one tenant, beyond its own quota; in a pool
    // without tenants, of all anonymous holders together (0: no limit).
    uint32_t max_leases_per_tenant = 1024;
    // The smallest fractional lease: each costs a session and its worker.
    uint64_t min_fraction_bytes = 16ull << 20;
    // Where tenants, drains and live leases are kept across a restart
    // (null: nowhere). Not owned; it must outlive the coordinator.
    StateStore* store = nullptr;
    // After a restart, how long a node that held leases has to rejoin
    // before those leases end.
    std::chrono::milliseconds rejoin_grace{10000};
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
  // Reads back the state store's tenants, drains and leases (once, before
  // serving). Restored leases get a fresh TTL; their nodes appear lost until
  // they rejoin, and leases whose sessions did not survive then end.
  absl::Status Restore();
  // Stops the reaper: no listener is called after this returns. Call it
  // before the listeners go away.
  void Stop();
  // This coordinator's term as the pool's leader ends (leadership.h): it
  // closes its nodes' links, so that they register with the next leader,
  // and stops, leaving its leases as the state store has them: the next
  // leader restores them. Nothing it does after this reaches the store.
  void Resign();
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
  // `certified_name`: the node name the peer's verified certificate carries
  // ("" without one).
  absl::StatusOr<Registration> RegisterNode(const v1::NodeHello& hello,
                                            std::shared_ptr<LeaseListener> listener,
                                            const std::string& certified_name = "");
  void NodeHeartbeat(const std::string& node, uint64_t generation);
  // The registration's link broke: the node is lost and its leases end.
  void NodeLinkLost(const std::string& node, uint64_t generation, const std::string& why);
  // OK if `secret` is the live registration's secret for `node`.
  absl::Status CheckNodeSecret(const std::string& node, const std::string& secret);

  // Records an event in the audit log, if the pool keeps one.
  void Audit(absl::string_view event, const AuditLog::Fields& fields);

  // The caller a bearer token (maybe "") names; `admin`: the call came
  // through the admin socket, whose callers the kernel vouched for
  // (admin_socket.h). UNAUTHENTICATED for a token the pool does not know,
  // and for a call without one to a pool with tenants. No caller is an
  // operator for the address it calls from.
  absl::StatusOr<Caller> Authenticate(absl::string_view bearer_token, bool admin);

  // Grants a lease now, or queues the request up to its wait_seconds;
  // `cancelled` is polled while it waits (the caller went away).
  absl::StatusOr<v1::LeaseResponse> Lease(const v1::LeaseRequest& request, const Caller& caller,
                                          const std::function<bool()>& cancelled = nullptr);
  absl::StatusOr<int64_t> Renew(const std::string& lease_id, const std::string& token,
                                const Caller& caller);
  absl::Status Release(const std::string& lease_id, const std::string& token, const Caller& caller);
  absl::Status AdminRelease(const std::string& lease_id);
  // LeaseAuthority, for nodes. A closed session ends its lease.
  absl::StatusOr<v1::LeaseInfo> Admit(const std::string& lease_id, const std::string& token,
                                      const std::string& node) override;
  void ReportUsage(const std::string& node, const v1::LeaseUsage& usage) override;
  void ReportSession(const std::string& node, const std::string& lease_id, bool open) override;

  // For metrics.
  struct Traffic {
    uint64_t launches = 0;
    uint64_t bytes_to_device = 0;
    uint64_t bytes_to_host = 0;
  };
  // Queue waits of granted requests, in seconds: counts of waits up to each
  // bound (cumulative, as Prometheus histograms are), their sum and count.
  static constexpr double kQueueWaitBounds[] = {0.001, 0.01, 0.1, 1, 10, 60, 300, 1800};
  struct QueueWaits {
    std::vector<uint64_t> at_most = std::vector<uint64_t>(std::size(kQueueWaitBounds));
    double sum_seconds = 0;
    uint64_t count = 0;
  };
  struct Counts {
    size_t active_leases = 0;
    size_t queued_leases = 0;
    std::map<std::string, Traffic> traffic;  // by tenant ("" without tenants)
    QueueWaits queue_waits;
    uint64_t granted = 0;
    std::map<std::string, uint64_t> refused;  // by canonical code
    std::map<std::string, uint64_t> ended;    // by reason
  };
  Counts counts();

  std::vector<v1::NodeInfo> ListNodes();
  std::vector<v1::DeviceInfo> ListDevices();
  // Live and queued leases the caller may see: an operator all, a tenant
  // its own. In pages (ListLeasesRequest says how), or all of them.
  static constexpr uint32_t kDefaultLeasePage = 1000;
  static constexpr uint32_t kMaxLeasePage = 5000;
  struct LeasePage {
    std::vector<v1::LeaseInfo> leases;
    std::string next_page_token;  // "" on the last page
  };
  absl::StatusOr<LeasePage> ListLeases(const Caller& caller, uint32_t page_size,
                                       absl::string_view page_token);
  std::vector<v1::LeaseInfo> ListLeases(const Caller& caller);
  // One of them, with why it is placed where it is or why it waits.
  absl::StatusOr<v1::LeaseInfo> ExplainLease(const std::string& lease_id, const Caller& caller);
  absl::Status Drain(const std::string& node, bool undrain);

  // Tenants. SeedTenant() is for the operator's tenant file at startup; the
  // rest are the operator's calls (the service checks who calls).
  // Adds a tenant from the operator's tenant file, unless the pool has it
  // already (restored from its state store): what operators changed since
  // with poolctl (a rotated token above all) is kept. Returns whether it
  // was added.
  absl::StatusOr<bool> SeedTenant(const Tenant& tenant);
  std::vector<v1::TenantInfo> ListTenants(const Caller& caller);
  // Rotating a tenant's token ends its live leases (their sessions end at
  // once, UNAUTHENTICATED naming the rotation) and fails its waiting
  // requests: whoever held the old token holds nothing any more.
  absl::StatusOr<v1::PutTenantResponse> PutTenant(const v1::PutTenantRequest& request);
  // Likewise ends the tenant's leases and requests, then removes it.
  absl::Status DeleteTenant(const std::string& name);

 private:
  // What `hello` registers with ("certificate NAME", "the node token of
  // NAME", "the join token"), or why it may not register at all.
  absl::StatusOr<std::string> NodeCredential(const v1::NodeHello& hello,
                                             const std::string& certified_name) const;

  struct Node {
    v1::NodeInfo info;     // state: "lost" if lost, else "draining" if drained, else "ready"
    bool drained = false;  // an operator's drain outlives losing and re-registering
    std::vector<v1::DeviceInfo> devices;
    uint32_t free = 0;  // devices no lease holds: full nodes are skipped unexamined
    std::shared_ptr<LeaseListener> listener;
    bool remote = false;   // registered over a NodeLink, heartbeats
    std::string instance;  // the registered process
    // What it registered with ("certificate NAME", "the join token"); ""
    // for a node restored from the state store that has not rejoined.
    std::string credential;
    uint64_t generation = 0;
    std::string secret;
    std::chrono::steady_clock::time_point last_heartbeat;
    // Restored with leases after a coordinator restart, not yet rejoined:
    // its leases end if it has not rejoined by then.
    std::optional<std::chrono::steady_clock::time_point> rejoin_by;
  };
  // What to tell a listener once the lock is released.
  struct Notice {
    std::shared_ptr<LeaseListener> listener;
    std::string lease_id;  // empty: the node itself was lost
    absl::Status why;
  };
  struct LeaseRecord {
    v1::LeaseInfo info;
    std::string token_sha256;  // only the holder knows the token itself
    std::chrono::steady_clock::time_point expires;
    // The latest report of the lease's session on each of its nodes.
    std::map<std::string, v1::LeaseUsage> usage_by_node;
    // Nodes where the lease's session is open.
    std::set<std::string> open_sessions;
  };
  // What leases hold of one device. Whole-device leases hold it alone;
  // fractional ones share it up to its memory.
  struct DeviceUse {
    uint64_t leased_memory = 0;
    uint32_t leases = 0;
    bool exclusive = false;
    std::map<std::string, uint32_t> tenants;  // leases on it, by tenant
    uint32_t isolated = 0;                    // of them, with isolation=device
  };
  // A lease that ended while nodes still ran its session: its devices stay
  // taken until each of them reports the session closed (its worker
  // reaped, its memory back), so that the next tenant finds them free.
  struct Teardown {
    v1::LeaseInfo info;
    std::set<std::string> nodes;                    // still closing the session
    std::chrono::steady_clock::time_point give_up;  // a node that never says
  };
  // The longest an ended lease's devices wait for its node to say the
  // session's worker is gone (a kill and a reap take milliseconds).
  static constexpr std::chrono::seconds kTeardownLimit{30};
  // How long a request that does not wait (wait_seconds 0) still waits
  // while ended leases are being torn down: a holder that releases and
  // leases again at once must not be refused for the milliseconds its old
  // worker takes to die.
  static constexpr std::chrono::seconds kTeardownWait{5};
  // A request waiting for room, or being placed now.
  struct Waiter {
    v1::LeaseRequest request;
    std::string id;  // the lease's id once granted
    std::string tenant;
    std::string policy;
    int32_t priority = 0;
    uint64_t sequence = 0;  // age order
    std::chrono::steady_clock::time_point since;
    int64_t since_unix_ms = 0;
    int attempts = 0;
    std::string reason;  // why it does not fit yet
    bool done = false;
    // The state store's write of the granted lease, waited for by the
    // requester (0: none).
    StateStore::Ticket store_ticket = 0;
    absl::StatusOr<v1::LeaseResponse> result = absl::UnknownError("not placed yet");
  };
  // Where a request fits, and why there.
  struct Placement {
    std::vector<const v1::DeviceInfo*> devices;
    std::vector<Node*> nodes;  // each device's
    std::string reason;
  };

  void ReapLoop();
  void RecountFreeLocked(Node& node) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Gives back what a lease held of its devices.
  void ReleaseDeviceUseLocked(const v1::LeaseInfo& lease) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // `node` has closed the ended lease's session (or is lost): its devices
  // are free once no node runs it. Returns whether any device was freed.
  bool TeardownDoneLocked(const std::string& lease_id, const std::string& node)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool CanSee(const Caller& caller, const std::string& tenant) const;

  // Placement (coordinator_placement.cc).
  absl::Status CheckRequest(const v1::LeaseRequest& request) const;
  // NOT_FOUND if the request can never fit in the pool as registered,
  // RESOURCE_EXHAUSTED with the reason if it does not fit now.
  absl::StatusOr<Placement> FindPlacementLocked(const v1::LeaseRequest& request,
                                                const std::string& policy,
                                                const std::string& tenant)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<Placement> PlaceWholeDevicesLocked(const v1::LeaseRequest& request, uint32_t count,
                                                    bool binpack)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<Placement> PlaceFractionLocked(const v1::LeaseRequest& request, uint32_t count,
                                                bool binpack, const std::string& tenant)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A gang of whole devices from as many nodes as it takes: binpack takes
  // the fullest nodes' free devices first, spread one device per node in
  // turn, emptiest nodes first.
  absl::StatusOr<Placement> PlaceAcrossNodesLocked(const v1::LeaseRequest& request, uint32_t count,
                                                   bool binpack) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WhyNoPlacementLocked(const v1::LeaseRequest& request, uint32_t count)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether `d` meets the request's constraints and is not kept for a
  // starving request ahead of it (its memory and leases aside).
  bool FreeForLocked(const v1::DeviceInfo& d, const v1::LeaseRequest& request) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Lease(), up to the state store's write: places the request or queues
  // it, and answers once it is placed or refused. A grant's queued store
  // write is `ticket` (0: none to wait for).
  absl::StatusOr<v1::LeaseResponse> PlaceLocked(const absl::Status& valid,
                                                const v1::LeaseRequest& request,
                                                const Caller& caller,
                                                const std::function<bool()>& cancelled,
                                                StateStore::Ticket& ticket)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Counts and audits what Lease() answered.
  void CountResult(const v1::LeaseRequest& request, const Caller& caller,
                   const absl::StatusOr<v1::LeaseResponse>& result) ABSL_LOCKS_EXCLUDED(mu_);
  // The lease's write to the state store is queued (waiter.store_ticket);
  // if the store does not keep it, Lease() ends it and answers UNAVAILABLE.
  absl::StatusOr<v1::LeaseResponse> GrantLocked(Waiter& waiter, const Placement& placement)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes what a lease holds of its devices and its tenant's quota.
  void ChargeLeaseLocked(const v1::LeaseInfo& info) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A node that was restored with leases registers: its leases whose
  // sessions it no longer has (`open_leases`) end.
  void ReconcileRestoredLocked(Node& node, const std::vector<std::string>& open_leases,
                               std::vector<Notice>& notices) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Places what it can from the queue, in order.
  void ServeQueueLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes a request that leaves the queue unplaced off it and its tenant.
  void DequeueLocked(const Waiter& waiter) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends every live lease of `tenant` and fails its waiting requests, with
  // `why` (its token was rotated, or it was deleted).
  void EndTenantLeasesLocked(const std::string& tenant, const absl::Status& why,
                             std::vector<Notice>& notices) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  v1::LeaseInfo QueuedInfo(const Waiter& waiter, size_t position) const;
  void SetFreeLocked(Node& node, uint32_t free) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Node& AddNodeLocked(const std::string& name, const std::string& address,
                      const std::map<std::string, std::string>& labels,
                      std::vector<v1::DeviceInfo> devices) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends the lease (lock held), remembering `why` for its holder's next
  // renewal; adds what to tell its nodes after unlocking to `notices`.
  // `reason` counts the end in metrics: released, revoked, expired,
  // session_closed, node_lost.
  void EndLocked(const std::string& lease_id, const absl::Status& why, const char* reason,
                 std::vector<Notice>& notices) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The nodes a lease's devices are on; whether one of them is `node`.
  static std::set<std::string> NodesOf(const v1::LeaseInfo& lease);
  static bool OnNode(const v1::LeaseInfo& lease, const std::string& node);
  static void Deliver(std::vector<Notice>& notices);
  // Marks the node lost and ends its leases; their holders see `why`, and
  // the node's listener hears of each lease and then of the loss.
  void LoseNodeLocked(Node& node, const std::string& why, std::vector<Notice>& notices)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static int64_t NowUnixMs();

  const Options options_;
  // Serialises the operator's changes to what the store keeps besides
  // leases (tenants, drains). Each is decided under mu_, written to the
  // store with mu_ released (a replicated store in trouble takes seconds to
  // fail, and grants, renewals and heartbeats must not wait behind it),
  // then applied under mu_ again; holding admin_mu_ throughout means no
  // other such change comes between. Taken before mu_.
  absl::Mutex admin_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  absl::Mutex mu_;
  std::map<std::string, Node> nodes_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Teardown> teardowns_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, LeaseRecord> leases_ ABSL_GUARDED_BY(mu_);
  // Why recently ended leases ended, with their tokens (only the holder
  // learns why), oldest first; bounded.
  struct Ended {
    std::string token_sha256;
    absl::Status why;
    // A session's last report may come after its lease ended (released
    // while commands were still on their way): it still counts.
    std::string tenant;
    std::map<std::string, v1::LeaseUsage> usage_by_node;
  };
  // Adds what is new in `usage` (cumulative counts) to the tenant's
  // traffic; `seen` is the node's previous report.
  void CountTrafficLocked(const std::string& tenant, const v1::LeaseUsage& usage,
                          v1::LeaseUsage& seen) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::map<std::string, Ended> ended_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> ended_order_ ABSL_GUARDED_BY(mu_);
  // By pool device id; devices no lease holds are absent.
  absl::flat_hash_map<std::string, DeviceUse> device_use_ ABSL_GUARDED_BY(mu_);
  // (free devices, node name) of every node: binpack walks it upward from
  // the size of the request, spread downward, so a pool of thousands of
  // nodes is not scanned for each whole-device lease.
  std::set<std::pair<uint32_t, std::string>> nodes_by_free_ ABSL_GUARDED_BY(mu_);
  // Served in order: priority, then age.
  std::vector<std::shared_ptr<Waiter>> queue_ ABSL_GUARDED_BY(mu_);
  // While the queue is served: the starving requests ahead of the one being
  // placed (see ServeQueueLocked).
  std::vector<const Waiter*> kept_for_ ABSL_GUARDED_BY(mu_);
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  TenantRegistry tenants_ ABSL_GUARDED_BY(mu_);
  uint64_t next_generation_ ABSL_GUARDED_BY(mu_) = 1;
  // Counted apart from mu_: a grant is counted after its store write,
  // without taking the coordinator's lock again.
  absl::Mutex counts_mu_;
  uint64_t granted_ ABSL_GUARDED_BY(counts_mu_) = 0;
  std::map<std::string, Traffic> traffic_ ABSL_GUARDED_BY(mu_);
  QueueWaits queue_waits_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, uint64_t> refused_by_code_ ABSL_GUARDED_BY(counts_mu_);
  std::map<std::string, uint64_t> ended_by_reason_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread reaper_;
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_COORDINATOR_COORDINATOR_H_
