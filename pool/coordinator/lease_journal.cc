#include "pool/coordinator/lease_journal.h"

namespace accel::pool {

void LeaseJournal::Reset(std::set<std::string> folded,
                         const std::map<std::string, accelpool::state::v1::JournalEntry>& entries,
                         Clock::time_point now) {
  entries_.clear();
  pending_.clear();
  folded_ = std::move(folded);
  for (const auto& [key, entry] : entries) Committed(key, entry, now);
}

void LeaseJournal::Committed(const std::string& key,
                             const accelpool::state::v1::JournalEntry& entry,
                             Clock::time_point now) {
  Entry& committed = entries_[key];
  committed.written = now;
  for (const accelpool::state::v1::LeaseChange& change : entry.changes()) {
    auto [it, fresh] = pending_.try_emplace(change.lease_id());
    Pending& pending = it->second;
    if (!fresh) entries_[pending.entry].last_of.erase(change.lease_id());
    pending.entry = key;
    if (change.has_lease()) {
      pending.lease = change.lease();
    } else {
      pending.lease.reset();
    }
    committed.last_of.insert(change.lease_id());
  }
}

LeaseJournal::Fold LeaseJournal::Next(Clock::time_point before, size_t max_writes) const {
  Fold fold;
  for (const auto& [key, entry] : entries_) {
    if (entry.written > before) break;
    std::vector<std::pair<std::string, std::optional<accelpool::state::v1::StoredLease>>> writes;
    for (const std::string& id : entry.last_of) {
      const Pending& pending = pending_.at(id);
      // Released before it was ever folded: there is no key to delete.
      if (!pending.lease && folded_.count(id) == 0) continue;
      writes.emplace_back(id, pending.lease);
    }
    if (fold.writes.size() + writes.size() > max_writes) break;
    for (auto& w : writes) fold.writes.push_back(std::move(w));
    fold.through = key;
  }
  return fold;
}

void LeaseJournal::Folded(const Fold& fold) {
  if (fold.empty()) return;
  for (auto it = entries_.begin(); it != entries_.end() && it->first <= fold.through;) {
    for (const std::string& id : it->second.last_of) pending_.erase(id);
    it = entries_.erase(it);
  }
  for (const auto& [id, lease] : fold.writes) {
    if (lease) {
      folded_.insert(id);
    } else {
      folded_.erase(id);
    }
  }
}

std::optional<LeaseJournal::Clock::time_point> LeaseJournal::oldest() const {
  if (entries_.empty()) return std::nullopt;
  return entries_.begin()->second.written;
}

}  // namespace accel::pool
