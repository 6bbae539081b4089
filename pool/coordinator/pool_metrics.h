// The pool's state as Prometheus metrics, read from the coordinator when
// scraped (nothing is kept twice): nodes up, device memory total / leased /
// in use, live leases, and grant and refusal counts.
#ifndef ACCEL_POOL_COORDINATOR_POOL_METRICS_H_
#define ACCEL_POOL_COORDINATOR_POOL_METRICS_H_

#include <vector>

#include "pool/coordinator/coordinator.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace accel::pool {

class PoolMetrics final : public prometheus::Collectable {
 public:
  explicit PoolMetrics(Coordinator& coordinator) : coordinator_(coordinator) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  Coordinator& coordinator_;
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_COORDINATOR_POOL_METRICS_H_
