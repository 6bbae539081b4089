#include "clients/remote/held_lease.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace accel::client {
namespace {

// Three renewals per TTL: one lost renewal never loses the lease.
std::chrono::milliseconds RenewPeriod(uint32_t ttl_seconds) {
  return std::chrono::milliseconds(std::max<uint32_t>(100, ttl_seconds * 1000 / 3));
}

}  // namespace

HeldLease::HeldLease(std::shared_ptr<PoolClient> pool, v1::LeaseResponse lease,
                     std::string tenant_token)
    : pool_(std::move(pool)), lease_(std::move(lease)), tenant_token_(std::move(tenant_token)) {
  renewer_ = std::thread([this] { RenewLoop(); });
}

HeldLease::~HeldLease() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  renewer_.join();
  // Already ended (its sessions closed first) is fine, and an unreachable
  // pool reclaims the lease at its TTL: there is nobody to tell.
  pool_->Release(lease_.lease().lease_id(), lease_.token(), tenant_token_).IgnoreError();
}

uint64_t HeldLease::Subscribe(std::function<void(const absl::Status&)> lost) {
  absl::Status already;
  uint64_t id;
  {
    absl::MutexLock lock(&mu_);
    id = next_subscription_++;
    if (lost_.ok()) {
      subscribers_[id] = std::move(lost);
      return id;
    }
    already = lost_;
  }
  lost(already);
  return id;
}

void HeldLease::Unsubscribe(uint64_t subscription) {
  absl::MutexLock notifying(&notify_mu_);  // a call in progress finishes first
  absl::MutexLock lock(&mu_);
  subscribers_.erase(subscription);
}

void HeldLease::Lose(absl::Status why) {
  absl::MutexLock notifying(&notify_mu_);
  std::vector<std::function<void(const absl::Status&)>> told;
  {
    absl::MutexLock lock(&mu_);
    if (!lost_.ok()) return;
    lost_ = why;
    for (auto& [id, lost] : subscribers_) told.push_back(lost);
  }
  for (auto& lost : told) lost(why);
}

void HeldLease::RenewLoop() {
  using Clock = std::chrono::steady_clock;
  const std::chrono::milliseconds period = RenewPeriod(lease_.lease().ttl_seconds());
  const std::chrono::seconds ttl(lease_.lease().ttl_seconds());
  // Until when the pool keeps the lease without hearing from us, on this
  // host's clock from the last renewal (the pool's clock may differ).
  Clock::time_point expires = Clock::now() + ttl;
  absl::MutexLock lock(&mu_);
  while (!stopping_ && lost_.ok()) {
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::FromChrono(period));
    if (stopping_) break;
    mu_.Unlock();
    const Clock::time_point sent = Clock::now();
    // Tries (every coordinator, through a failover) until the lease would
    // lapse, less a margin for the answer to come back.
    const auto within = std::max<std::chrono::milliseconds>(
        std::chrono::duration_cast<std::chrono::milliseconds>(expires - sent) - period / 4,
        std::chrono::milliseconds(100));
    absl::StatusOr<int64_t> renewed =
        pool_->Renew(lease_.lease().lease_id(), lease_.token(), tenant_token_, within);
    absl::Status lose;
    if (renewed.ok()) {
      expires = sent + ttl;
    } else if (renewed.status().code() == absl::StatusCode::kNotFound ||
               renewed.status().code() == absl::StatusCode::kUnauthenticated ||
               renewed.status().code() == absl::StatusCode::kPermissionDenied) {
      // Gone, or our tenant's token was rotated or revoked: no retry helps.
      lose = absl::UnavailableError(absl::StrCat("lease lost: ", renewed.status().message()));
    } else if (Clock::now() + period >= expires) {
      lose = absl::UnavailableError(
          absl::StrCat("lease lost: pool unreachable (", renewed.status().message(), ")"));
    }
    if (!lose.ok()) Lose(lose);
    mu_.Lock();
  }
}

}  // namespace accel::client
