// The etcd store's lease journal, as its leader tracks it: which journal
// entries etcd holds, and which of their changes the per-lease keys do not
// have yet. A batch of lease writes commits as one journal entry (one key,
// which costs etcd far less than a key per lease); folding later writes
// each lease's last change to its own key and deletes the entries it
// covers, in one transaction. A lease granted and released before it is
// folded never gets a key of its own.
//
// Folding is safe in pieces and at any time: a lease's state is its last
// change in the journal, else its own key; an entry may go once each lease
// it names either has its last change folded or is named by a later entry.
// This class only decides; the store writes (pool/coordinator/etcd_state_store.h).
#ifndef ACCEL_POOL_COORDINATOR_LEASE_JOURNAL_H_
#define ACCEL_POOL_COORDINATOR_LEASE_JOURNAL_H_

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "pool/proto/state.pb.h"

namespace accel::pool {

class LeaseJournal {
 public:
  using Clock = std::chrono::steady_clock;

  // Starts over from what etcd holds: the leases with a key of their own,
  // and the journal's entries by key. They fold as if written `now`.
  void Reset(std::set<std::string> folded,
             const std::map<std::string, accelpool::state::v1::JournalEntry>& entries,
             Clock::time_point now);
  // The entry at `key` committed (keys sort in commit order).
  void Committed(const std::string& key, const accelpool::state::v1::JournalEntry& entry,
                 Clock::time_point now);

  struct Fold {
    // Each lease's own key: its last change (a put), or none (a delete).
    std::vector<std::pair<std::string, std::optional<accelpool::state::v1::StoredLease>>> writes;
    // The journal's entries up to this key, inclusive, go; empty: none.
    std::string through;
    bool empty() const { return through.empty(); }
  };
  // The next fold of the oldest entries, those written by `before`:
  // whole entries, as many as `max_writes` key writes cover (a lease
  // released before it got a key needs none).
  Fold Next(Clock::time_point before, size_t max_writes) const;
  // `fold` committed.
  void Folded(const Fold& fold);

  // Entries in etcd, and when the oldest was written (none: nothing to fold).
  size_t entries() const { return entries_.size(); }
  std::optional<Clock::time_point> oldest() const;
  // Leases with a key of their own.
  const std::set<std::string>& folded() const { return folded_; }

 private:
  struct Entry {
    Clock::time_point written;
    std::set<std::string> last_of;  // the leases whose last change this entry holds
  };
  struct Pending {
    std::optional<accelpool::state::v1::StoredLease> lease;  // none: released
    std::string entry;                                       // the key holding it
  };
  std::map<std::string, Entry> entries_;
  std::map<std::string, Pending> pending_;  // by lease
  std::set<std::string> folded_;
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_COORDINATOR_LEASE_JOURNAL_H_
