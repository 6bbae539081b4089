// A granted lease as this client holds it: one renewal thread however many
// nodes' sessions the lease spans, and the release when the last of them
// goes (the pool frees it at once instead of at the end of its TTL).
// Sessions subscribe to hear when the lease is lost.
//
// While no coordinator answers (one is down, or a new leader is being
// elected) renewals are retried, and the lease is given up only once it
// would have lapsed: a failover shorter than the TTL loses nothing.
#ifndef ACCEL_CLIENTS_REMOTE_HELD_LEASE_H_
#define ACCEL_CLIENTS_REMOTE_HELD_LEASE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "clients/remote/pool_client.h"

namespace accel::client {

class HeldLease {
 public:
  // Starts renewing `lease` as the tenant whose token this is.
  HeldLease(std::shared_ptr<PoolClient> pool, v1::LeaseResponse lease, std::string tenant_token);
  ~HeldLease();  // stops renewing, and releases the lease
  HeldLease(const HeldLease&) = delete;
  HeldLease& operator=(const HeldLease&) = delete;

  const v1::LeaseResponse& lease() const { return lease_; }
  PoolClient& pool() const { return *pool_; }

  // `lost` is called once, on the renewal thread, if the lease is lost
  // ("lease lost: ..."); at once if it is lost already. Unsubscribe waits
  // for a call in progress.
  uint64_t Subscribe(std::function<void(const absl::Status&)> lost);
  void Unsubscribe(uint64_t subscription);

 private:
  void RenewLoop();
  void Lose(absl::Status why);

  const std::shared_ptr<PoolClient> pool_;
  const v1::LeaseResponse lease_;
  const std::string tenant_token_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status lost_ ABSL_GUARDED_BY(mu_);
  uint64_t next_subscription_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<uint64_t, std::function<void(const absl::Status&)>> subscribers_ ABSL_GUARDED_BY(mu_);
  absl::Mutex notify_mu_;  // held while subscribers are told
  std::thread renewer_;
};

}  // namespace accel::client

#endif  // ACCEL_CLIENTS_REMOTE_HELD_LEASE_H_
