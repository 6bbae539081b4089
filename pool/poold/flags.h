// Every flag of poold, declared for main and defined by role in
// flags_serving.cc, flags_node.cc, flags_coordinator.cc and
// flags_security.cc (poold --help lists them in those groups).
#ifndef ACCEL_POOL_POOLD_FLAGS_H_
#define ACCEL_POOL_POOLD_FLAGS_H_

#include <cstdint>
#include <string>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "pool/poold/poold.h"

// serving
ABSL_DECLARE_FLAG(std::string, listen);
ABSL_DECLARE_FLAG(std::string, advertise_address);
ABSL_DECLARE_FLAG(bool, bulk_channel);
ABSL_DECLARE_FLAG(int32_t, bulk_port);
ABSL_DECLARE_FLAG(std::string, metrics_listen);
ABSL_DECLARE_FLAG(std::string, http_listen);
ABSL_DECLARE_FLAG(double, handshake_seconds);

// node
ABSL_DECLARE_FLAG(std::string, backends);
ABSL_DECLARE_FLAG(int, host_devices);
ABSL_DECLARE_FLAG(std::string, host_device_memory);
ABSL_DECLARE_FLAG(bool, allow_host_kernels);
ABSL_DECLARE_FLAG(double, max_kernel_seconds);
ABSL_DECLARE_FLAG(double, max_shared_kernel_seconds);
ABSL_DECLARE_FLAG(int, max_sessions);
ABSL_DECLARE_FLAG(std::string, session_worker);
ABSL_DECLARE_FLAG(std::string, node_name);
ABSL_DECLARE_FLAG(std::string, labels);
ABSL_DECLARE_FLAG(std::string, config);
ABSL_DECLARE_FLAG(std::string, exclude_devices);
ABSL_DECLARE_FLAG(std::string, coordinator);

// coordinator
ABSL_DECLARE_FLAG(int, lease_ttl);
ABSL_DECLARE_FLAG(int, max_leases_per_tenant);
ABSL_DECLARE_FLAG(std::string, min_fraction);
ABSL_DECLARE_FLAG(int, node_heartbeat_ms);
ABSL_DECLARE_FLAG(std::string, tenants);
ABSL_DECLARE_FLAG(std::string, state);
ABSL_DECLARE_FLAG(int, election_ttl);
ABSL_DECLARE_FLAG(int, etcd_compaction_minutes);
ABSL_DECLARE_FLAG(std::string, placement);
ABSL_DECLARE_FLAG(int, queue_starvation_after_ms);
ABSL_DECLARE_FLAG(int, dashboard_sample_seconds);

// security
ABSL_DECLARE_FLAG(std::string, join_token_file);
ABSL_DECLARE_FLAG(std::string, node_tokens);
ABSL_DECLARE_FLAG(std::string, tls_cert);
ABSL_DECLARE_FLAG(std::string, tls_key);
ABSL_DECLARE_FLAG(std::string, tls_client_ca);
ABSL_DECLARE_FLAG(std::string, coordinator_tls_ca);
ABSL_DECLARE_FLAG(std::string, operator_token_file);
ABSL_DECLARE_FLAG(std::string, operator_cn);
ABSL_DECLARE_FLAG(std::string, admin_socket);
ABSL_DECLARE_FLAG(std::string, metrics_password_file);
ABSL_DECLARE_FLAG(std::string, audit_log);
ABSL_DECLARE_FLAG(std::string, admin_group);
ABSL_DECLARE_FLAG(std::string, etcd_tls_ca);
ABSL_DECLARE_FLAG(std::string, etcd_tls_cert);
ABSL_DECLARE_FLAG(std::string, etcd_tls_key);
ABSL_DECLARE_FLAG(std::string, etcd_user);
ABSL_DECLARE_FLAG(std::string, etcd_password_file);

namespace accel::pool {
// The options the flags give.
PooldOptions PooldOptionsFromFlags();
}  // namespace accel::pool

#endif  // ACCEL_POOL_POOLD_FLAGS_H_
