#include "pool/coordinator/etcd_state_store.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "pool/coordinator/etcd_state_layout.h"
#include "pool/coordinator/etcd_state_mirror.h"
#include "pool/proto/state.pb.h"

namespace accel::pool {
namespace {

// A new leader's mark, written to see its warm copy catch up (not state).
constexpr char kMark[] = "mark";
// etcd's default --max-txn-ops: the most operations one transaction holds.
// A journal entry holds one fewer leases, so that folding it (its leases'
// keys and the entries' deletion) fits one transaction too.
constexpr size_t kMaxTxnOps = 128;
constexpr size_t kMaxEntryLeases = kMaxTxnOps - 1;
// How long a new leader waits for its warm copy to catch up before reading
// etcd instead.
constexpr std::chrono::seconds kMirrorWait{2};
// A batch this large means load: the next one gathers for a moment.
constexpr size_t kGatherAbove = 8;
// Journal entries fold once this old: a lease released sooner never costs
// a key of its own, and a burst of grants is written at the journal's
// speed, its folds following later.
constexpr std::chrono::seconds kFoldAge{10};
// A journal longer than this folds whatever its age, so that it stays
// quick to load (and to watch) under any load.
constexpr size_t kMaxJournalEntries = 256;
// A fold that failed (etcd in trouble) is tried again after this.
constexpr std::chrono::seconds kFoldRetry{1};

accelpool::state::v1::StoredLease ToStored(StoredLease lease) {
  accelpool::state::v1::StoredLease stored;
  *stored.mutable_info() = std::move(lease.info);
  stored.set_token_sha256(std::move(lease.token_sha256));
  return stored;
}

}  // namespace

EtcdStateStore::EtcdStateStore(EtcdClient& etcd)
    : etcd_(etcd), committer_([this] { CommitLoop(); }) {}

EtcdStateStore::~EtcdStateStore() {
  {
    absl::MutexLock lock(&queue_mu_);
    stopping_ = true;
  }
  committer_.join();
}

void EtcdStateStore::Fence(const std::string& leader_key, int64_t revision, int64_t elected_at,
                           std::function<void()> lost) {
  absl::MutexLock lock(&mu_);
  leader_key_ = leader_key;
  revision_ = revision;
  if (elected_at != journal_term_) {  // a new term's entries
    journal_term_ = elected_at;
    journal_n_ = 0;
  }
  elected_at_ = elected_at;
  lost_ = std::move(lost);
}

void EtcdStateStore::Unfence() {
  absl::MutexLock lock(&mu_);
  leader_key_.clear();
  revision_ = 0;
  elected_at_ = 0;
  lost_ = nullptr;
}

std::string EtcdStateStore::Key(absl::string_view kind, absl::string_view name) const {
  return absl::StrCat(etcd_.location().prefix, "/", kind, "/", name);
}

absl::StatusOr<int64_t> EtcdStateStore::Commit(std::vector<etcdserverpb::RequestOp> ops) {
  etcdserverpb::TxnRequest txn;
  {
    absl::MutexLock lock(&mu_);
    if (revision_ == 0) {
      return absl::FailedPreconditionError(
          "etcd: this coordinator is not the pool's leader, so it writes nothing");
    }
    etcdserverpb::Compare* fence = txn.add_compare();
    fence->set_key(leader_key_);
    fence->set_target(etcdserverpb::Compare::CREATE);
    fence->set_result(etcdserverpb::Compare::EQUAL);
    fence->set_create_revision(revision_);
  }
  for (etcdserverpb::RequestOp& op : ops) *txn.add_success() = std::move(op);
  absl::StatusOr<etcdserverpb::TxnResponse> done = etcd_.Txn(txn);
  if (!done.ok()) return done.status();
  if (!done->succeeded()) {
    std::function<void()> lost;
    {
      absl::MutexLock lock(&mu_);
      lost = std::move(lost_);
      lost_ = nullptr;
      revision_ = 0;
    }
    if (lost) lost();
    return absl::FailedPreconditionError(
        "etcd: this coordinator is no longer the pool's leader (its election key is gone): "
        "nothing was written");
  }
  return done->header().revision();
}

absl::StatusOr<int64_t> EtcdStateStore::Mark() {
  etcdserverpb::RequestOp op;
  op.mutable_request_put()->set_key(Key(kMark, ""));
  return Commit({std::move(op)});
}

absl::Status EtcdStateStore::Put(const std::string& key, const std::string& value) {
  etcdserverpb::RequestOp op;
  op.mutable_request_put()->set_key(key);
  op.mutable_request_put()->set_value(value);
  return Commit({std::move(op)}).status();
}

absl::Status EtcdStateStore::Delete(const std::string& key) {
  etcdserverpb::RequestOp op;
  op.mutable_request_delete_range()->set_key(key);
  return Commit({std::move(op)}).status();
}

void EtcdStateStore::UseMirror(EtcdStateMirror* mirror) {
  absl::MutexLock lock(&mu_);
  mirror_ = mirror;
}

absl::StatusOr<PoolState> EtcdStateStore::Load() {
  EtcdStateMirror* mirror;
  int64_t elected_at;
  {
    absl::MutexLock lock(&mu_);
    mirror = mirror_;
    elected_at = elected_at_;
  }
  absl::MutexLock journal(&journal_mu_);
  const std::string root = absl::StrCat(etcd_.location().prefix, "/");
  std::optional<EtcdStateDecoder> records;
  // A standby's warm copy, caught up to this leader's mark (written after
  // its election, so after every earlier leader's write).
  if (mirror != nullptr && elected_at != 0) {
    absl::StatusOr<int64_t> mark = Mark();
    absl::StatusOr<EtcdStateDecoder> warm =
        mark.ok() ? mirror->RecordsAt(*mark, kMirrorWait) : mark.status();
    if (warm.ok()) {
      records.emplace(*std::move(warm));
    } else {
      std::fprintf(stderr, "poold: reading the pool's state from etcd: %s\n",
                   warm.status().ToString().c_str());
    }
  }
  if (!records) {
    records.emplace(root);
    absl::StatusOr<int64_t> read = etcd_.RangePrefix(
        root, [&](const mvccpb::KeyValue& kv) { return records->Add(kv.key(), kv.value()); });
    if (!read.ok()) return read.status();
  }
  journal_.Reset(records->folded(), records->journal(), LeaseJournal::Clock::now());
  journal_tracks_ = elected_at;
  return records->Finish();
}

absl::Status EtcdStateStore::PutTenant(const Tenant& tenant) {
  accelpool::state::v1::StoredTenant stored;
  *stored.mutable_settings() = TenantSettings(tenant);
  stored.set_token_sha256(tenant.token_sha256);
  return Put(Key(kEtcdTenants, tenant.name), stored.SerializeAsString());
}

absl::Status EtcdStateStore::DeleteTenant(const std::string& name) {
  return Delete(Key(kEtcdTenants, name));
}

absl::Status EtcdStateStore::SetDrained(const std::string& node, bool drained) {
  return drained ? Put(Key(kEtcdDrained, node), "") : Delete(Key(kEtcdDrained, node));
}

// A lease's writes all go through the journal: a write straight to its key
// would be overridden by an earlier journal entry not yet folded.
absl::Status EtcdStateStore::PutLease(const StoredLease& lease) {
  return Wait(QueuePutLease(lease));
}

absl::Status EtcdStateStore::DeleteLease(const std::string& lease_id) {
  return Wait(Enqueue(lease_id, std::nullopt, /*waited=*/true));
}

StateStore::Ticket EtcdStateStore::QueuePutLease(StoredLease lease) {
  std::string id = lease.info.lease_id();
  return Enqueue(std::move(id), std::move(lease), /*waited=*/true);
}

void EtcdStateStore::QueueDeleteLease(const std::string& lease_id) {
  Enqueue(lease_id, std::nullopt, /*waited=*/false);
}

StateStore::Ticket EtcdStateStore::Enqueue(std::string lease_id, std::optional<StoredLease> put,
                                           bool waited) {
  std::shared_ptr<Outcome> outcome = waited ? std::make_shared<Outcome>() : nullptr;
  absl::MutexLock lock(&queue_mu_);
  Ticket ticket = 0;
  if (outcome != nullptr) {
    ticket = next_ticket_++;
    outcomes_[ticket] = outcome;
  }
  ++queued_;
  queue_.push_back({std::move(lease_id), std::move(put), std::move(outcome)});
  return ticket;
}

void EtcdStateStore::Flush() {
  absl::MutexLock lock(&queue_mu_);
  std::pair<EtcdStateStore*, uint64_t> flushing(this, queued_);
  queue_mu_.Await(absl::Condition(
      +[](std::pair<EtcdStateStore*, uint64_t>* f) ABSL_EXCLUSIVE_LOCKS_REQUIRED(
           f->first->queue_mu_) { return f->first->tried_ >= f->second; },
      &flushing));
}

absl::Status EtcdStateStore::Wait(Ticket ticket) {
  std::shared_ptr<Outcome> outcome;
  {
    absl::MutexLock lock(&queue_mu_);
    auto it = outcomes_.find(ticket);
    if (it == outcomes_.end()) {
      return absl::InternalError(absl::StrCat("etcd: no queued write has ticket ", ticket));
    }
    outcome = std::move(it->second);
    outcomes_.erase(it);
  }
  outcome->done.WaitForNotification();
  return outcome->status;
}

absl::Status EtcdStateStore::CommitEntry(accelpool::state::v1::JournalEntry entry) {
  std::string key;
  int64_t term;
  {
    absl::MutexLock lock(&mu_);
    term = journal_term_;
    key = Key(kEtcdJournal, JournalKeyName(term, journal_n_++));
  }
  etcdserverpb::RequestOp op;
  op.mutable_request_put()->set_key(key);
  op.mutable_request_put()->set_value(entry.SerializeAsString());
  absl::MutexLock journal(&journal_mu_);
  absl::Status committed = Commit({std::move(op)}).status();
  if (!committed.ok()) return committed;
  // A term that wrote before loading (a bench's, a test's) tracks only its
  // own entries; poold's terms load first.
  if (journal_tracks_ != term) {
    journal_.Reset({}, {}, LeaseJournal::Clock::now());
    journal_tracks_ = term;
  }
  journal_.Committed(key, entry, LeaseJournal::Clock::now());
  return committed;
}

bool EtcdStateStore::JournalIsThisTerms() {
  absl::MutexLock lock(&mu_);
  return revision_ != 0 && journal_tracks_ == elected_at_;
}

absl::StatusOr<bool> EtcdStateStore::FoldOnce(LeaseJournal::Clock::time_point before) {
  if (!JournalIsThisTerms()) {
    return absl::FailedPreconditionError(
        "etcd: this coordinator does not lead the term whose journal it knows: it folds nothing");
  }
  LeaseJournal::Fold fold = journal_.Next(before, kMaxEntryLeases);
  if (fold.empty()) {
    // Nothing due after all (Load reset the journal since): not again at once.
    fold_retry_ = LeaseJournal::Clock::now() + kFoldRetry;
    return false;
  }
  std::vector<etcdserverpb::RequestOp> ops;
  for (const auto& [id, lease] : fold.writes) {
    etcdserverpb::RequestOp& op = ops.emplace_back();
    if (lease) {
      op.mutable_request_put()->set_key(Key(kEtcdLeases, id));
      op.mutable_request_put()->set_value(lease->SerializeAsString());
    } else {
      op.mutable_request_delete_range()->set_key(Key(kEtcdLeases, id));
    }
  }
  // The entries folded: every journal key up to and including the last.
  etcdserverpb::DeleteRangeRequest* entries = ops.emplace_back().mutable_request_delete_range();
  entries->set_key(Key(kEtcdJournal, ""));
  entries->set_range_end(fold.through + std::string(1, '\0'));
  if (absl::Status s = Commit(std::move(ops)).status(); !s.ok()) {
    fold_retry_ = LeaseJournal::Clock::now() + kFoldRetry;
    return s;
  }
  journal_.Folded(fold);
  return !journal_.Next(before, kMaxEntryLeases).empty();
}

LeaseJournal::Clock::time_point EtcdStateStore::NextFold() {
  absl::MutexLock journal(&journal_mu_);
  const std::optional<LeaseJournal::Clock::time_point> oldest = journal_.oldest();
  if (!oldest || !JournalIsThisTerms()) return LeaseJournal::Clock::time_point::max();
  const LeaseJournal::Clock::time_point due =
      journal_.entries() > kMaxJournalEntries ? *oldest : *oldest + kFoldAge;
  return std::max(due, fold_retry_);
}

void EtcdStateStore::FoldDue() {
  absl::MutexLock journal(&journal_mu_);
  const auto now = LeaseJournal::Clock::now();
  const bool forced = journal_.entries() > kMaxJournalEntries;
  absl::StatusOr<bool> folded =
      FoldOnce(forced ? LeaseJournal::Clock::time_point::max() : now - kFoldAge);
  if (!folded.ok()) {
    LogFailure(absl::Status(folded.status().code(), absl::StrCat("folding the lease journal: ",
                                                                 folded.status().message())));
  }
}

absl::Status EtcdStateStore::Fold() {
  absl::MutexLock journal(&journal_mu_);
  for (;;) {
    absl::StatusOr<bool> more = FoldOnce(LeaseJournal::Clock::time_point::max());
    if (!more.ok()) return more.status();
    if (!*more) break;
  }
  if (journal_.entries() != 0) {
    return absl::InternalError(
        absl::StrCat("etcd: ", journal_.entries(), " journal entries could not be folded"));
  }
  return absl::OkStatus();
}

void EtcdStateStore::CommitLoop() {
  // The last two batches' sizes. Under load, requesters fall into two
  // groups: those waiting on the transaction in flight and those queueing
  // for the next. Gathering for both groups' worth merges them into one
  // transaction, which costs little more than half as large a one.
  size_t last_batch = 0, batch_before = 0;
  std::pair<EtcdStateStore*, size_t> gathered(this, 0);  // what to gather for
  absl::MutexLock lock(&queue_mu_);
  for (;;) {
    // One fold transaction between batches, when one is due: folding keeps
    // up with any load, and no batch waits for more than one.
    if (!stopping_ && NextFold() <= LeaseJournal::Clock::now()) {
      queue_mu_.Unlock();
      FoldDue();
      queue_mu_.Lock();
    }
    gathered.second = std::min(kMaxEntryLeases, last_batch + batch_before);
    // Until there are writes or a fold is due; at least every second, as
    // Load may have given the journal entries.
    const auto wait = std::clamp<LeaseJournal::Clock::duration>(
        NextFold() - LeaseJournal::Clock::now(), LeaseJournal::Clock::duration::zero(),
        std::chrono::seconds(1));
    queue_mu_.AwaitWithTimeout(
        absl::Condition(
            +[](EtcdStateStore* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->queue_mu_) {
              return s->stopping_ || !s->queue_.empty();
            },
            this),
        absl::FromChrono(wait));
    if (queue_.empty()) {
      if (stopping_) return;  // everything committed
      continue;               // a fold may be due
    }
    // Under load (the last batch was large), a moment for the requesters it
    // woke to queue their next writes, so that they share one transaction
    // rather than trickle into many. Idle, nothing waits.
    if (last_batch >= kGatherAbove && queue_.size() < gathered.second && !stopping_) {
      queue_mu_.AwaitWithTimeout(
          absl::Condition(
              +[](std::pair<EtcdStateStore*, size_t>* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(
                   w->first->queue_mu_) { return w->first->queue_.size() >= w->second; },
              &gathered),
          absl::Milliseconds(1));
    }
    // A batch: what is queued, up to one journal entry's worth of leases. A
    // later write to a lease replaces an earlier one; the earlier one's
    // waiter learns the batch's outcome, which includes its lease's last
    // state.
    std::vector<std::string> ids;  // in the order first queued
    std::map<std::string, std::optional<StoredLease>> writes;
    std::vector<std::shared_ptr<Outcome>> outcomes;
    size_t taken = 0;
    while (!queue_.empty()) {
      Queued& q = queue_.front();
      if (writes.count(q.lease_id) == 0) {
        if (writes.size() == kMaxEntryLeases) break;
        ids.push_back(q.lease_id);
      }
      writes[q.lease_id] = std::move(q.put);
      if (q.outcome != nullptr) outcomes.push_back(std::move(q.outcome));
      queue_.pop_front();
      ++taken;
    }
    batch_before = last_batch;
    last_batch = ids.size();
    queue_mu_.Unlock();
    accelpool::state::v1::JournalEntry entry;
    for (const std::string& id : ids) {
      accelpool::state::v1::LeaseChange* change = entry.add_changes();
      change->set_lease_id(id);
      if (std::optional<StoredLease>& put = writes[id]) {
        *change->mutable_lease() = ToStored(*std::move(put));
      }
    }
    const absl::Status committed = CommitEntry(std::move(entry));
    if (!committed.ok()) LogFailure(committed);
    for (const std::shared_ptr<Outcome>& outcome : outcomes) {
      outcome->status = committed;
      outcome->done.Notify();
    }
    queue_mu_.Lock();
    tried_ += taken;
  }
}

}  // namespace accel::pool
