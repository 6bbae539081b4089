// The pool's state as Prometheus metrics, read from the coordinator when
// scraped (nothing is kept twice): nodes up, device memory total / leased /
// in use, live leases, and grant and refusal counts; and the control plane:
// whether this coordinator leads, and its state store's round trip.
#ifndef ACCEL_POOL_COORDINATOR_POOL_METRICS_H_
#define ACCEL_POOL_COORDINATOR_POOL_METRICS_H_

#include <vector>

#include "pool/coordinator/leadership.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace accel::pool {

class PoolMetrics final : public prometheus::Collectable {
 public:
  explicit PoolMetrics(Leadership& leadership) : leadership_(leadership) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  // The pool's figures, from the coordinator that leads.
  void CollectPool(Coordinator& coordinator, std::vector<prometheus::MetricFamily>& out) const;

  Leadership& leadership_;
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_COORDINATOR_POOL_METRICS_H_
