#include "pool/coordinator/etcd_state_layout.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace accel::pool {

std::string JournalKeyName(int64_t term, uint64_t n) {
  // Fixed widths, so that the string order is the numeric one.
  return absl::StrFormat("%020d-%020u", term, n);
}

absl::Status EtcdStateDecoder::Add(absl::string_view full_key, const std::string& value) {
  absl::string_view key = full_key;
  key.remove_prefix(std::min(root_.size(), key.size()));
  const size_t slash = key.find('/');
  const absl::string_view kind = key.substr(0, slash);
  const std::string name(slash == absl::string_view::npos ? "" : key.substr(slash + 1));
  auto unreadable = [&] {
    return absl::DataLossError(absl::StrCat("etcd key ", full_key, " is unreadable"));
  };
  if (kind == kEtcdTenants) {
    accelpool::state::v1::StoredTenant stored;
    if (!stored.ParseFromString(value) || stored.settings().name() != name) return unreadable();
    others_.tenants.push_back(
        TenantFromSettings(stored.settings(), std::move(*stored.mutable_token_sha256())));
  } else if (kind == kEtcdDrained) {
    others_.drained_nodes.insert(name);
  } else if (kind == kEtcdLeases) {
    accelpool::state::v1::StoredLease stored;
    if (!stored.ParseFromString(value) || stored.info().lease_id() != name) return unreadable();
    StoredLease& lease = leases_[name];
    lease.info = std::move(*stored.mutable_info());
    lease.token_sha256 = std::move(*stored.mutable_token_sha256());
    folded_.insert(name);
  } else if (kind == kEtcdJournal) {
    accelpool::state::v1::JournalEntry entry;
    if (!entry.ParseFromString(value)) return unreadable();
    for (const accelpool::state::v1::LeaseChange& change : entry.changes()) {
      if (change.lease_id().empty() ||
          (change.has_lease() && change.lease().info().lease_id() != change.lease_id())) {
        return unreadable();
      }
    }
    journal_[std::string(full_key)] = std::move(entry);
  }
  // Anything else under the prefix (the election's keys, the mark) is not
  // state.
  return absl::OkStatus();
}

PoolState EtcdStateDecoder::Finish() const {
  std::map<std::string, StoredLease> leases = leases_;
  for (const auto& [key, entry] : journal_) {
    for (const accelpool::state::v1::LeaseChange& change : entry.changes()) {
      if (!change.has_lease()) {
        leases.erase(change.lease_id());
        continue;
      }
      StoredLease& lease = leases[change.lease_id()];
      lease.info = change.lease().info();
      lease.token_sha256 = change.lease().token_sha256();
    }
  }
  PoolState state = others_;
  state.leases.reserve(leases.size());
  for (auto& [id, lease] : leases) state.leases.push_back(std::move(lease));
  return state;
}

}  // namespace accel::pool
