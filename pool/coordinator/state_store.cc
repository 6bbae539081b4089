#include "pool/coordinator/state_store.h"

#include <cstdio>

namespace accel::pool {

void StateStore::LogFailure(const absl::Status& status) {
  std::fprintf(stderr, "poold: the state store did not keep a change: %s\n",
               status.ToString().c_str());
}

StateStore::Ticket StateStore::Done(absl::Status status) {
  absl::MutexLock lock(&done_mu_);
  const Ticket ticket = next_done_++;
  // Only failures are kept (each is waited for once): an unknown ticket is OK.
  if (!status.ok()) done_[ticket] = std::move(status);
  return ticket;
}

absl::Status StateStore::Wait(Ticket ticket) {
  absl::MutexLock lock(&done_mu_);
  auto it = done_.find(ticket);
  if (it == done_.end()) return absl::OkStatus();
  absl::Status status = std::move(it->second);
  done_.erase(it);
  return status;
}

}  // namespace accel::pool
