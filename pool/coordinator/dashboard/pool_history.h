// The last hour of the pool, for the dashboard's charts: leased memory,
// live leases and queue length, sampled at a fixed interval from whichever
// coordinator leads, kept in memory only (Prometheus keeps the long run).
#ifndef ACCEL_POOL_COORDINATOR_DASHBOARD_POOL_HISTORY_H_
#define ACCEL_POOL_COORDINATOR_DASHBOARD_POOL_HISTORY_H_

#include <chrono>
#include <deque>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "pool/coordinator/leadership.h"
#include "pool/proto/dashboard.pb.h"

namespace accel::pool {

// The pool now: `coordinator`'s figures, stamped with the time.
v1::DashboardSample SamplePool(Coordinator& coordinator);

class PoolHistory {
 public:
  // Samples every `interval` until destroyed, keeping an hour's worth.
  PoolHistory(Leadership& leadership, std::chrono::seconds interval);
  ~PoolHistory();
  PoolHistory(const PoolHistory&) = delete;
  PoolHistory& operator=(const PoolHistory&) = delete;

  std::chrono::seconds interval() const { return interval_; }
  // Oldest first. A standby samples nothing: its gaps are the leader's.
  std::vector<v1::DashboardSample> Samples() const;

 private:
  void Run();

  Leadership& leadership_;
  const std::chrono::seconds interval_;
  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::deque<v1::DashboardSample> samples_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread sampler_;
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_COORDINATOR_DASHBOARD_POOL_HISTORY_H_
