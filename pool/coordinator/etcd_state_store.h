// The coordinator's state in etcd (poold --state etcd://...): the store of a
// highly available control plane, shared by every coordinator of the pool.
// The layout is pool/coordinator/etcd_state_layout.h's: a key per tenant,
// drained node and folded lease, and the lease journal.
//
// Lease writes are batched: those queued while a transaction is in flight
// go together in the next one (later writes to a lease replacing earlier
// ones), as one journal entry: one key, however many grants share it, as
// etcd's cost grows with the keys a transaction writes. The committer folds
// entries into the per-lease keys once they are a second old (or the
// journal grows long), one transaction between batches
// (pool/coordinator/lease_journal.h).
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
#include "pool/coordinator/lease_journal.h"
#include "pool/coordinator/state_store.h"

namespace accel::pool {

class EtcdStateMirror;

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
  // Also starts the journal's bookkeeping over from what etcd holds.
  absl::StatusOr<PoolState> Load() override;
  absl::Status PutTenant(const Tenant& tenant) override;
  absl::Status DeleteTenant(const std::string& name) override;
  absl::Status SetDrained(const std::string& node, bool drained) override;
  // Through the journal, as queued writes are, and waited for.
  absl::Status PutLease(const StoredLease& lease) override;
  absl::Status DeleteLease(const std::string& lease_id) override;
  // The lease is encoded by the committer, not under the caller's lock.
  Ticket QueuePutLease(StoredLease lease) override;
  void QueueDeleteLease(const std::string& lease_id) override;
  absl::Status Wait(Ticket ticket) override;
  void Flush() override;
  // Folds the whole journal into the per-lease keys now (the committer
  // does it in its own time); what a bench or test calls to see the cost.
  absl::Status Fold();

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
    std::shared_ptr<Outcome> outcome;  // when waited for
  };
  Ticket Enqueue(std::string lease_id, std::optional<StoredLease> put, bool waited);
  void CommitLoop();
  // One journal entry: the batch's last write to each lease.
  absl::Status CommitEntry(accelpool::state::v1::JournalEntry entry);
  // One fold transaction, of entries written by `before`; whether the
  // journal has more of those.
  absl::StatusOr<bool> FoldOnce(LeaseJournal::Clock::time_point before)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(journal_mu_);
  // Whether `journal_` is this term's to fold.
  bool JournalIsThisTerms() ABSL_EXCLUSIVE_LOCKS_REQUIRED(journal_mu_);
  // When the committer folds next (what is due, or a retry's time), and
  // that fold.
  LeaseJournal::Clock::time_point NextFold() ABSL_LOCKS_EXCLUDED(journal_mu_);
  void FoldDue() ABSL_LOCKS_EXCLUDED(journal_mu_);
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
  // The term whose journal entries this store numbers, and its next.
  int64_t journal_term_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t journal_n_ ABSL_GUARDED_BY(mu_) = 0;

  absl::Mutex queue_mu_;
  std::deque<Queued> queue_ ABSL_GUARDED_BY(queue_mu_);
  Ticket next_ticket_ ABSL_GUARDED_BY(queue_mu_) = 1;
  std::map<Ticket, std::shared_ptr<Outcome>> outcomes_ ABSL_GUARDED_BY(queue_mu_);
  // Writes queued, and writes tried, since the start (Flush).
  uint64_t queued_ ABSL_GUARDED_BY(queue_mu_) = 0;
  uint64_t tried_ ABSL_GUARDED_BY(queue_mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(queue_mu_) = false;

  // Held from a journal entry's write to its bookkeeping, and by Load from
  // its read to the journal's reset: no entry is missed between them.
  absl::Mutex journal_mu_ ABSL_ACQUIRED_AFTER(queue_mu_);
  LeaseJournal journal_ ABSL_GUARDED_BY(journal_mu_);
  // The term (its elected_at) whose journal `journal_` tracks: only that
  // term folds it, since another leader may have changed its leases since.
  int64_t journal_tracks_ ABSL_GUARDED_BY(journal_mu_) = 0;
  // A fold that failed is tried again no sooner than this.
  LeaseJournal::Clock::time_point fold_retry_ ABSL_GUARDED_BY(journal_mu_){};
  std::thread committer_;
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_COORDINATOR_ETCD_STATE_STORE_H_
