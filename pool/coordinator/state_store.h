// What the coordinator keeps across its own restart: tenants, drained nodes
// and live leases. The coordinator writes through to the store on every
// change and reads it back once at start; a node or client that reconnects
// after a restart finds its lease still there.
//
// Storage sits behind this interface so that a replicated store (etcd, for
// a highly available coordinator) can replace the embedded SQLite one.
#ifndef ACCEL_POOL_COORDINATOR_STATE_STORE_H_
#define ACCEL_POOL_COORDINATOR_STATE_STORE_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "pool/common/wire.h"
#include "pool/coordinator/tenant_registry.h"

namespace accel::pool {

// A live lease as stored: what listings show, and its token's hash.
struct StoredLease {
  v1::LeaseInfo info;
  std::string token_sha256;
};

struct PoolState {
  std::vector<Tenant> tenants;
  std::set<std::string> drained_nodes;
  std::vector<StoredLease> leases;
};

class StateStore {
 public:
  virtual ~StateStore() = default;
  virtual absl::StatusOr<PoolState> Load() = 0;
  virtual absl::Status PutTenant(const Tenant& tenant) = 0;
  virtual absl::Status DeleteTenant(const std::string& name) = 0;
  virtual absl::Status SetDrained(const std::string& node, bool drained) = 0;
  virtual absl::Status PutLease(const StoredLease& lease) = 0;
  virtual absl::Status DeleteLease(const std::string& lease_id) = 0;

  // Lease writes, the frequent ones, may be batched: the coordinator queues
  // them under its lock and waits for a grant's write (Wait) only after
  // releasing it, so that the writes of concurrent grants share one round
  // trip to a replicated store. Writes to one lease keep their order. The
  // embedded store writes at once.
  using Ticket = uint64_t;
  virtual Ticket QueuePutLease(StoredLease lease) { return Done(PutLease(lease)); }
  // Nobody waits for a delete: the store logs its failure (the next
  // leader ends a lease it restores whose session no node runs).
  virtual void QueueDeleteLease(const std::string& lease_id) {
    if (absl::Status s = DeleteLease(lease_id); !s.ok()) LogFailure(s);
  }
  // How a queued put went; each ticket is waited for once.
  virtual absl::Status Wait(Ticket ticket);
  // Returns once every write queued before the call has been tried
  // (committed, or failed and logged): what a leader that steps down
  // gracefully does first, so that its successor restores no lease that
  // was released.
  virtual void Flush() {}

  static void LogFailure(const absl::Status& status);

 protected:
  // A ticket for a write already made.
  Ticket Done(absl::Status status);

 private:
  absl::Mutex done_mu_;
  Ticket next_done_ ABSL_GUARDED_BY(done_mu_) = 1;
  std::map<Ticket, absl::Status> done_ ABSL_GUARDED_BY(done_mu_);
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_COORDINATOR_STATE_STORE_H_
