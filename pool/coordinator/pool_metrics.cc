#include "pool/coordinator/pool_metrics.h"

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

  MetricFamily up = Family("accelpool_node_up", "1 if the node is ready or draining, 0 if lost",
                           MetricType::Gauge);
  MetricFamily draining =
      Family("accelpool_node_draining", "1 if the node takes no new leases", MetricType::Gauge);
  for (const v1::NodeInfo& n : coordinator_.ListNodes()) {
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
  for (const v1::DeviceInfo& d : coordinator_.ListDevices()) {
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

  const Coordinator::Counts counts = coordinator_.counts();
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
  return out;
}

}  // namespace accel::pool
