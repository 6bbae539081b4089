#include "pool/coordinator/etcd_state_store.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "pool/coordinator/etcd_state_mirror.h"
#include "pool/proto/state.pb.h"

namespace accel::pool {
namespace {

constexpr char kTenants[] = "tenants";
constexpr char kDrained[] = "drained";
constexpr char kLeases[] = "leases";
// A new leader's mark, written to see its warm copy catch up (not state).
constexpr char kMark[] = "mark";
// etcd's default --max-txn-ops: the most operations one transaction holds.
constexpr size_t kMaxTxnOps = 128;
// How long a new leader waits for its warm copy to catch up before reading
// etcd instead.
constexpr std::chrono::seconds kMirrorWait{2};
// A batch this large means load: the next one gathers for a moment.
constexpr size_t kGatherAbove = 8;

std::string Encode(StoredLease lease) {
  accelpool::state::v1::StoredLease stored;
  *stored.mutable_info() = std::move(lease.info);
  stored.set_token_sha256(std::move(lease.token_sha256));
  return stored.SerializeAsString();
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

absl::Status DecodeRecord(const std::string& root, absl::string_view full_key,
                          const std::string& value, PoolState& state) {
  absl::string_view key = full_key;
  key.remove_prefix(std::min(root.size(), key.size()));
  const size_t slash = key.find('/');
  const absl::string_view kind = key.substr(0, slash);
  const std::string name(slash == absl::string_view::npos ? "" : key.substr(slash + 1));
  auto unreadable = [&] {
    return absl::DataLossError(absl::StrCat("etcd key ", full_key, " is unreadable"));
  };
  if (kind == kTenants) {
    accelpool::state::v1::StoredTenant stored;
    if (!stored.ParseFromString(value) || stored.settings().name() != name) return unreadable();
    state.tenants.push_back(
        TenantFromSettings(stored.settings(), std::move(*stored.mutable_token_sha256())));
  } else if (kind == kDrained) {
    state.drained_nodes.insert(name);
  } else if (kind == kLeases) {
    accelpool::state::v1::StoredLease stored;
    if (!stored.ParseFromString(value) || stored.info().lease_id() != name) return unreadable();
    StoredLease& lease = state.leases.emplace_back();
    lease.info = std::move(*stored.mutable_info());
    lease.token_sha256 = stored.token_sha256();
  }
  // Anything else under the prefix (the election's keys) is not state.
  return absl::OkStatus();
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
  // A standby's warm copy, caught up to this leader's mark (written after
  // its election, so after every earlier leader's write).
  if (mirror != nullptr && elected_at != 0) {
    absl::StatusOr<int64_t> mark = Mark();
    absl::StatusOr<PoolState> warm =
        mark.ok() ? mirror->StateAt(*mark, kMirrorWait) : mark.status();
    if (warm.ok()) return warm;
    std::fprintf(stderr, "poold: reading the pool's state from etcd: %s\n",
                 warm.status().ToString().c_str());
  }
  PoolState state;
  const std::string root = absl::StrCat(etcd_.location().prefix, "/");
  absl::StatusOr<int64_t> read = etcd_.RangePrefix(root, [&](const mvccpb::KeyValue& kv) {
    return DecodeRecord(root, kv.key(), kv.value(), state);
  });
  if (!read.ok()) return read.status();
  return state;
}

absl::Status EtcdStateStore::PutTenant(const Tenant& tenant) {
  accelpool::state::v1::StoredTenant stored;
  *stored.mutable_settings() = TenantSettings(tenant);
  stored.set_token_sha256(tenant.token_sha256);
  return Put(Key(kTenants, tenant.name), stored.SerializeAsString());
}

absl::Status EtcdStateStore::DeleteTenant(const std::string& name) {
  return Delete(Key(kTenants, name));
}

absl::Status EtcdStateStore::SetDrained(const std::string& node, bool drained) {
  return drained ? Put(Key(kDrained, node), "") : Delete(Key(kDrained, node));
}

absl::Status EtcdStateStore::PutLease(const StoredLease& lease) {
  return Put(Key(kLeases, lease.info.lease_id()), Encode(lease));
}

absl::Status EtcdStateStore::DeleteLease(const std::string& lease_id) {
  return Delete(Key(kLeases, lease_id));
}

StateStore::Ticket EtcdStateStore::QueuePutLease(StoredLease lease) {
  auto outcome = std::make_shared<Outcome>();
  std::string id = lease.info.lease_id();
  absl::MutexLock lock(&queue_mu_);
  const Ticket ticket = next_ticket_++;
  outcomes_[ticket] = outcome;
  ++queued_;
  queue_.push_back({std::move(id), std::move(lease), std::move(outcome)});
  return ticket;
}

void EtcdStateStore::QueueDeleteLease(const std::string& lease_id) {
  absl::MutexLock lock(&queue_mu_);
  ++queued_;
  queue_.push_back({lease_id, std::nullopt, nullptr});
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

void EtcdStateStore::CommitLoop() {
  // The last two batches' sizes. Under load, requesters fall into two
  // groups: those waiting on the transaction in flight and those queueing
  // for the next. Gathering for both groups' worth merges them into one
  // transaction, which costs little more than half as large a one.
  size_t last_batch = 0, batch_before = 0;
  std::pair<EtcdStateStore*, size_t> gathered(this, 0);  // what to gather for
  absl::MutexLock lock(&queue_mu_);
  for (;;) {
    gathered.second = std::min(kMaxTxnOps, last_batch + batch_before);
    queue_mu_.Await(absl::Condition(
        +[](EtcdStateStore* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->queue_mu_) {
          return s->stopping_ || !s->queue_.empty();
        },
        this));
    if (queue_.empty()) return;  // stopping, and everything committed
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
    // A batch: what is queued, up to one transaction's worth of keys. A
    // later write to a key replaces an earlier one (etcd refuses a
    // transaction naming a key twice); the earlier one's waiter learns the
    // batch's outcome, which includes its lease's last state.
    std::vector<std::string> ids;  // in the order first queued
    std::map<std::string, std::optional<StoredLease>> writes;
    std::vector<std::shared_ptr<Outcome>> outcomes;
    size_t taken = 0;
    while (!queue_.empty()) {
      Queued& q = queue_.front();
      if (writes.count(q.lease_id) == 0) {
        if (writes.size() == kMaxTxnOps) break;
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
    std::vector<etcdserverpb::RequestOp> ops;
    for (const std::string& id : ids) {
      etcdserverpb::RequestOp& op = ops.emplace_back();
      if (std::optional<StoredLease>& put = writes[id]) {
        op.mutable_request_put()->set_key(Key(kLeases, id));
        op.mutable_request_put()->set_value(Encode(*std::move(put)));
      } else {
        op.mutable_request_delete_range()->set_key(Key(kLeases, id));
      }
    }
    const absl::Status committed = Commit(std::move(ops)).status();
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
