// The coordinator's state in etcd (poold --state etcd://...): the store of a
// highly available control plane, shared by every coordinator of the pool.
// One key per record under the prefix (tenants/NAME, drained/NODE,
// leases/ID; values from pool/proto/state.proto).
//
// Lease writes are batched: those queued while a transaction is in flight
// go together in the next one (up to etcd's 128 operations, later writes to
// a lease replacing earlier ones), so concurrent grants share round trips.
//
// Every write is a transaction fenced by the writer's leadership: it
// commits only while the election key that made this coordinator the
// leader still exists with the revision it was created at. A coordinator
// that lost its leadership (its etcd lease lapsed, another one was elected)
// can therefore never commit a grant, however late its write arrives.
#ifndef ACCEL_POOL_COORDINATOR_ETCD_STATE_STORE_H_
#define ACCEL_POOL_COORDINATOR_ETCD_STATE_STORE_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "pool/coordinator/etcd_client.h"
#include "pool/coordinator/state_store.h"

namespace accel::pool {

class EtcdStateMirror;

// Adds the record at `key` (under `root`, "PREFIX/") to `state`; keys that
// are not records (the election's) are skipped. DATA_LOSS if unreadable.
absl::Status DecodeRecord(const std::string& root, absl::string_view key, const std::string& value,
                          PoolState& state);

class EtcdStateStore final : public StateStore {
 public:
  // `etcd` must outlive the store. Writes are refused until Fence().
  explicit EtcdStateStore(EtcdClient& etcd);
  ~EtcdStateStore() override;  // commits what is queued first

  // Writes commit only while `leader_key` exists, created at `revision`.
  // `lost` is called (once, from the writing thread) when a write finds
  // the fence gone: this coordinator must stop acting as the leader.
  // `elected_at`: etcd's revision when this leader was elected; a term
  // that has one loads from the warm copy, if there is one (Load).
  void Fence(const std::string& leader_key, int64_t revision, int64_t elected_at,
             std::function<void()> lost);
  // Loads come from `mirror` (which must outlive the store) when it has
  // delivered the new leader's mark (Mark); else from etcd.
  void UseMirror(EtcdStateMirror* mirror);
  // Refuses every later write: the term ends.
  void Unfence();

  // Writes the leader's mark (fenced): its revision, which a warm copy that
  // has delivered it has caught up to.
  absl::StatusOr<int64_t> Mark();
  absl::StatusOr<PoolState> Load() override;
  absl::Status PutTenant(const Tenant& tenant) override;
  absl::Status DeleteTenant(const std::string& name) override;
  absl::Status SetDrained(const std::string& node, bool drained) override;
  absl::Status PutLease(const StoredLease& lease) override;
  absl::Status DeleteLease(const std::string& lease_id) override;
  // The lease is encoded by the committer, not under the caller's lock.
  Ticket QueuePutLease(StoredLease lease) override;
  void QueueDeleteLease(const std::string& lease_id) override;
  absl::Status Wait(Ticket ticket) override;
  void Flush() override;

 private:
  // A put's outcome, for its one waiter. Each waiter sleeps on its own:
  // the committer wakes a batch's waiters at once, where waiters sharing
  // the queue's mutex would be woken one after another, each by the last.
  struct Outcome {
    absl::Notification done;
    absl::Status status;  // set before `done`
  };
  struct Queued {
    std::string lease_id;
    std::optional<StoredLease> put;    // none: a delete
    std::shared_ptr<Outcome> outcome;  // puts
  };
  void CommitLoop();
  absl::Status Put(const std::string& key, const std::string& value);
  absl::Status Delete(const std::string& key);
  // One fenced transaction: its revision.
  absl::StatusOr<int64_t> Commit(std::vector<etcdserverpb::RequestOp> ops);
  std::string Key(absl::string_view kind, absl::string_view name) const;

  EtcdClient& etcd_;
  absl::Mutex mu_;
  std::string leader_key_ ABSL_GUARDED_BY(mu_);
  int64_t revision_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t elected_at_ ABSL_GUARDED_BY(mu_) = 0;
  std::function<void()> lost_ ABSL_GUARDED_BY(mu_);
  EtcdStateMirror* mirror_ ABSL_GUARDED_BY(mu_) = nullptr;

  absl::Mutex queue_mu_;
  std::deque<Queued> queue_ ABSL_GUARDED_BY(queue_mu_);
  Ticket next_ticket_ ABSL_GUARDED_BY(queue_mu_) = 1;
  std::map<Ticket, std::shared_ptr<Outcome>> outcomes_ ABSL_GUARDED_BY(queue_mu_);
  // Writes queued, and writes tried, since the start (Flush).
  uint64_t queued_ ABSL_GUARDED_BY(queue_mu_) = 0;
  uint64_t tried_ ABSL_GUARDED_BY(queue_mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(queue_mu_) = false;
  std::thread committer_;
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_COORDINATOR_ETCD_STATE_STORE_H_
