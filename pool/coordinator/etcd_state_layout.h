// How the pool's state lies under its etcd prefix (PREFIX/...), and how it
// is read back: one key per tenant (tenants/NAME), drained node
// (drained/NODE) and folded lease (leases/ID), plus the lease journal
// (journal/TERM-N: a batch of lease writes as one key), whose entries apply
// in key order over the per-lease keys. Values are pool/proto/state.proto's.
// Other keys under the prefix (the election's, the leader's mark) are not
// state. Shared by the store (the leader's reads) and a standby's warm copy.
#ifndef ACCEL_POOL_COORDINATOR_ETCD_STATE_LAYOUT_H_
#define ACCEL_POOL_COORDINATOR_ETCD_STATE_LAYOUT_H_

#include <map>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "pool/coordinator/state_store.h"
#include "pool/proto/state.pb.h"

namespace accel::pool {

inline constexpr char kEtcdTenants[] = "tenants";
inline constexpr char kEtcdDrained[] = "drained";
inline constexpr char kEtcdLeases[] = "leases";
inline constexpr char kEtcdJournal[] = "journal";

// The journal key of a leader's `n`th entry in the term it was elected to
// at etcd revision `term`: keys sort in the order their entries committed
// (a later term's revision is higher; fences keep terms from overlapping).
std::string JournalKeyName(int64_t term, uint64_t n);

class EtcdStateDecoder {
 public:
  // `root`: "PREFIX/".
  explicit EtcdStateDecoder(std::string root) : root_(std::move(root)) {}

  // Takes the key/value at `key`, in any order. DATA_LOSS if a record is
  // unreadable.
  absl::Status Add(absl::string_view key, const std::string& value);
  // The state: tenants, drains, and the leases of the per-lease keys with
  // the journal's entries applied over them in order.
  PoolState Finish() const;

  // What the store's journal needs at the start of a term: the leases with
  // a key of their own, and the journal's entries (by full key, in order).
  const std::set<std::string>& folded() const { return folded_; }
  const std::map<std::string, accelpool::state::v1::JournalEntry>& journal() const {
    return journal_;
  }

 private:
  const std::string root_;
  PoolState others_;  // tenants and drains
  std::map<std::string, StoredLease> leases_;
  std::set<std::string> folded_;
  std::map<std::string, accelpool::state::v1::JournalEntry> journal_;
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_COORDINATOR_ETCD_STATE_LAYOUT_H_
