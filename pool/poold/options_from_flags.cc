// poold's flags, as the options of the Poold they start.
#include "pool/poold/flags.h"

namespace accel::pool {

PooldOptions PooldOptionsFromFlags() {
  PooldOptions o;
  o.listen = absl::GetFlag(FLAGS_listen);
  o.advertise_address = absl::GetFlag(FLAGS_advertise_address);
  o.bulk_channel = absl::GetFlag(FLAGS_bulk_channel);
  o.bulk_port = absl::GetFlag(FLAGS_bulk_port);
  o.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  o.handshake_seconds = absl::GetFlag(FLAGS_handshake_seconds);
  o.lease_ttl = absl::GetFlag(FLAGS_lease_ttl);
  o.max_leases_per_tenant = absl::GetFlag(FLAGS_max_leases_per_tenant);
  o.min_fraction = absl::GetFlag(FLAGS_min_fraction);
  o.node_heartbeat_ms = absl::GetFlag(FLAGS_node_heartbeat_ms);
  o.tenants = absl::GetFlag(FLAGS_tenants);
  o.state = absl::GetFlag(FLAGS_state);
  o.election_ttl = absl::GetFlag(FLAGS_election_ttl);
  o.etcd_compaction_minutes = absl::GetFlag(FLAGS_etcd_compaction_minutes);
  o.placement = absl::GetFlag(FLAGS_placement);
  o.queue_starvation_after_ms = absl::GetFlag(FLAGS_queue_starvation_after_ms);
  o.join_token_file = absl::GetFlag(FLAGS_join_token_file);
  o.node_tokens = absl::GetFlag(FLAGS_node_tokens);
  o.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  o.tls_key = absl::GetFlag(FLAGS_tls_key);
  o.tls_client_ca = absl::GetFlag(FLAGS_tls_client_ca);
  o.coordinator_tls_ca = absl::GetFlag(FLAGS_coordinator_tls_ca);
  o.operator_token_file = absl::GetFlag(FLAGS_operator_token_file);
  o.operator_cn = absl::GetFlag(FLAGS_operator_cn);
  o.admin_socket = absl::GetFlag(FLAGS_admin_socket);
  o.metrics_password_file = absl::GetFlag(FLAGS_metrics_password_file);
  o.audit_log = absl::GetFlag(FLAGS_audit_log);
  o.admin_group = absl::GetFlag(FLAGS_admin_group);
  o.etcd_tls_ca = absl::GetFlag(FLAGS_etcd_tls_ca);
  o.etcd_tls_cert = absl::GetFlag(FLAGS_etcd_tls_cert);
  o.etcd_tls_key = absl::GetFlag(FLAGS_etcd_tls_key);
  o.etcd_user = absl::GetFlag(FLAGS_etcd_user);
  o.etcd_password_file = absl::GetFlag(FLAGS_etcd_password_file);
  o.backends = absl::GetFlag(FLAGS_backends);
  o.host_devices = absl::GetFlag(FLAGS_host_devices);
  o.host_device_memory = absl::GetFlag(FLAGS_host_device_memory);
  o.allow_host_kernels = absl::GetFlag(FLAGS_allow_host_kernels);
  o.max_kernel_seconds = absl::GetFlag(FLAGS_max_kernel_seconds);
  o.max_shared_kernel_seconds = absl::GetFlag(FLAGS_max_shared_kernel_seconds);
  o.max_sessions = absl::GetFlag(FLAGS_max_sessions);
  o.session_worker = absl::GetFlag(FLAGS_session_worker);
  o.node_name = absl::GetFlag(FLAGS_node_name);
  o.labels = absl::GetFlag(FLAGS_labels);
  o.config = absl::GetFlag(FLAGS_config);
  o.exclude_devices = absl::GetFlag(FLAGS_exclude_devices);
  o.coordinator = absl::GetFlag(FLAGS_coordinator);
  o.http_listen = absl::GetFlag(FLAGS_http_listen);
  o.dashboard_sample_seconds = absl::GetFlag(FLAGS_dashboard_sample_seconds);
  return o;
}

}  // namespace accel::pool
