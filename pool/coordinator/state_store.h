// What the coordinator keeps across its own restart: tenants, drained nodes
// and live leases. The coordinator writes through to the store on every
// change and reads it back once at start; a node or client that reconnects
// after a restart finds its lease still there.
//
// Storage sits behind this interface so that a replicated store (etcd, for
// a highly available coordinator) can replace the embedded SQLite one.
#ifndef ACCEL_POOL_COORDINATOR_STATE_STORE_H_
#define ACCEL_POOL_COORDINATOR_STATE_STORE_H_

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
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
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_COORDINATOR_STATE_STORE_H_
