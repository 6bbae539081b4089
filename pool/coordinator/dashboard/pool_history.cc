#include "pool/coordinator/dashboard/pool_history.h"

#include <algorithm>
#include <optional>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace accel::pool {

v1::DashboardSample SamplePool(Coordinator& coordinator) {
  v1::DashboardSample sample;
  sample.set_unix_ms(absl::ToUnixMillis(absl::Now()));
  for (const v1::DeviceInfo& d : coordinator.ListDevices()) {
    sample.set_leased_memory(sample.leased_memory() + d.leased_memory());
    sample.set_total_memory(sample.total_memory() + d.total_memory());
  }
  const Coordinator::Counts counts = coordinator.counts();
  sample.set_active_leases(static_cast<uint32_t>(counts.active_leases));
  sample.set_queued_leases(static_cast<uint32_t>(counts.queued_leases));
  return sample;
}

PoolHistory::PoolHistory(Leadership& leadership, std::chrono::seconds interval)
    : leadership_(leadership),
      interval_(std::max(interval, std::chrono::seconds(1))),
      capacity_(static_cast<size_t>(std::max<int64_t>(1, 3600 / interval_.count()))),
      sampler_([this] { Run(); }) {}

PoolHistory::~PoolHistory() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  sampler_.join();
}

std::vector<v1::DashboardSample> PoolHistory::Samples() const {
  absl::MutexLock lock(&mu_);
  return {samples_.begin(), samples_.end()};
}

void PoolHistory::Run() {
  for (;;) {
    // Outside the lock: the coordinator's own lock is taken in there.
    absl::StatusOr<std::shared_ptr<Coordinator>> leading = leadership_.Current();
    std::optional<v1::DashboardSample> sample;
    if (leading.ok()) sample = SamplePool(**leading);
    absl::MutexLock lock(&mu_);
    if (sample.has_value()) {
      samples_.push_back(*std::move(sample));
      if (samples_.size() > capacity_) samples_.pop_front();
    }
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::FromChrono(interval_))) return;
  }
}

}  // namespace accel::pool
