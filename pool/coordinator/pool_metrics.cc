#include "pool/coordinator/pool_metrics.h"

#include <iterator>
#include <limits>
#include <string>
#include <utility>

namespace accel::pool {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily Family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

void Add(MetricFamily& family, std::vector<ClientMetric::Label> labels, double value) {
  ClientMetric& m = family.metric.emplace_back();
  m.label = std::move(labels);
  if (family.type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
}

}  // namespace

std::vector<MetricFamily> PoolMetrics::Collect() const {
  std::vector<MetricFamily> out;
  const ControlPlaneView view = leadership_.view();
  MetricFamily leader =
      Family("accelpool_coordinator_leader",
             "1 if this coordinator leads the pool, 0 if it stands by", MetricType::Gauge);
  Add(leader, {}, view.role == "leader" ? 1 : 0);
  out.push_back(std::move(leader));
  MetricFamily store =
      Family("accelpool_etcd_round_trip_seconds",
             "how long the last call to etcd took (0 for an embedded store)", MetricType::Gauge);
  Add(store, {}, static_cast<double>(view.store_round_trip.count()) / 1e6);
  out.push_back(std::move(store));
  // A standby has no pool figures of its own: the leader's are the pool's.
  absl::StatusOr<std::shared_ptr<Coordinator>> coordinator = leadership_.Current();
  if (coordinator.ok()) CollectPool(**coordinator, out);
  return out;
}

void PoolMetrics::CollectPool(Coordinator& coordinator, std::vector<MetricFamily>& out) const {
  MetricFamily up = Family("accelpool_node_up", "1 if the node is ready or draining, 0 if lost",
                           MetricType::Gauge);
  MetricFamily draining =
      Family("accelpool_node_draining", "1 if the node takes no new leases", MetricType::Gauge);
  for (const v1::NodeInfo& n : coordinator.ListNodes()) {
    Add(up, {{"node", n.name()}}, n.state() == "lost" ? 0 : 1);
    Add(draining, {{"node", n.name()}}, n.state() == "draining" ? 1 : 0);
  }
  out.push_back(std::move(up));
  out.push_back(std::move(draining));

  MetricFamily total =
      Family("accelpool_device_memory_total_bytes", "device memory", MetricType::Gauge);
  MetricFamily leased =
      Family("accelpool_device_memory_leased_bytes",
             "device memory promised to leases (their quotas)", MetricType::Gauge);
  MetricFamily used = Family("accelpool_device_memory_used_bytes",
                             "device memory that leases have allocated", MetricType::Gauge);
  MetricFamily device_leases =
      Family("accelpool_device_leases", "leases holding the device", MetricType::Gauge);
  for (const v1::DeviceInfo& d : coordinator.ListDevices()) {
    std::vector<ClientMetric::Label> labels = {{"device", d.id()},
                                               {"node", d.node()},
                                               {"backend", d.backend()},
                                               {"vendor", d.vendor()},
                                               {"arch", d.arch()}};
    Add(total, labels, static_cast<double>(d.total_memory()));
    Add(leased, labels, static_cast<double>(d.leased_memory()));
    Add(used, labels, static_cast<double>(d.used_memory()));
    Add(device_leases, std::move(labels), d.leases());
  }
  out.push_back(std::move(total));
  out.push_back(std::move(leased));
  out.push_back(std::move(used));
  out.push_back(std::move(device_leases));

  const Coordinator::Counts counts = coordinator.counts();
  MetricFamily active = Family("accelpool_leases_active", "live leases", MetricType::Gauge);
  Add(active, {}, static_cast<double>(counts.active_leases));
  out.push_back(std::move(active));
  MetricFamily granted =
      Family("accelpool_leases_granted_total", "leases granted", MetricType::Counter);
  Add(granted, {}, static_cast<double>(counts.granted));
  out.push_back(std::move(granted));
  MetricFamily refused =
      Family("accelpool_lease_requests_refused_total",
             "lease requests refused, by canonical status code", MetricType::Counter);
  for (const auto& [code, n] : counts.refused) {
    Add(refused, {{"code", code}}, static_cast<double>(n));
  }
  out.push_back(std::move(refused));
  MetricFamily ended =
      Family("accelpool_leases_ended_total", "leases ended, by reason", MetricType::Counter);
  for (const auto& [reason, n] : counts.ended) {
    Add(ended, {{"reason", reason}}, static_cast<double>(n));
  }
  out.push_back(std::move(ended));
  MetricFamily queued =
      Family("accelpool_leases_queued", "lease requests waiting for room", MetricType::Gauge);
  Add(queued, {}, static_cast<double>(counts.queued_leases));
  out.push_back(std::move(queued));

  MetricFamily waits = Family("accelpool_lease_queue_wait_seconds",
                              "how long granted requests waited in the queue (0 for those "
                              "granted at once)",
                              MetricType::Histogram);
  ClientMetric& histogram = waits.metric.emplace_back();
  histogram.histogram.sample_count = counts.queue_waits.count;
  histogram.histogram.sample_sum = counts.queue_waits.sum_seconds;
  for (size_t b = 0; b < std::size(Coordinator::kQueueWaitBounds); ++b) {
    histogram.histogram.bucket.push_back(
        {counts.queue_waits.at_most[b], Coordinator::kQueueWaitBounds[b]});
  }
  histogram.histogram.bucket.push_back(
      {counts.queue_waits.count, std::numeric_limits<double>::infinity()});
  out.push_back(std::move(waits));

  // Per tenant: what each holds now, and what its sessions have done.
  MetricFamily tenant_leases =
      Family("accelpool_tenant_leases", "the tenant's live leases", MetricType::Gauge);
  MetricFamily tenant_queued =
      Family("accelpool_tenant_queued", "the tenant's requests in the queue", MetricType::Gauge);
  MetricFamily tenant_devices =
      Family("accelpool_tenant_devices", "devices the tenant's leases hold", MetricType::Gauge);
  MetricFamily tenant_memory = Family("accelpool_tenant_memory_leased_bytes",
                                      "device memory the tenant's leases hold", MetricType::Gauge);
  for (const v1::TenantInfo& t :
       coordinator.ListTenants(Caller{"", true, "the metrics endpoint"})) {
    Add(tenant_leases, {{"tenant", t.name()}}, t.leases());
    Add(tenant_queued, {{"tenant", t.name()}}, t.queued());
    Add(tenant_devices, {{"tenant", t.name()}}, t.devices());
    Add(tenant_memory, {{"tenant", t.name()}}, static_cast<double>(t.memory()));
  }
  MetricFamily launches = Family("accelpool_tenant_launches_total",
                                 "kernel launches by the tenant's sessions (\"\" in a pool "
                                 "without tenants)",
                                 MetricType::Counter);
  MetricFamily copied =
      Family("accelpool_tenant_copied_bytes_total",
             "bytes the tenant's sessions copied, by direction", MetricType::Counter);
  for (const auto& [tenant, traffic] : counts.traffic) {
    Add(launches, {{"tenant", tenant}}, static_cast<double>(traffic.launches));
    Add(copied, {{"tenant", tenant}, {"direction", "to_device"}},
        static_cast<double>(traffic.bytes_to_device));
    Add(copied, {{"tenant", tenant}, {"direction", "to_host"}},
        static_cast<double>(traffic.bytes_to_host));
  }
  for (MetricFamily* f :
       {&tenant_leases, &tenant_queued, &tenant_devices, &tenant_memory, &launches, &copied}) {
    out.push_back(std::move(*f));
  }
}

}  // namespace accel::pool
