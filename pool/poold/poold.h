// One running poold: the coordinator (alone, or elected through etcd), the
// node serving this host's devices, the bulk listener, the gRPC server, the
// admin socket, the metrics endpoint and the web dashboard, wired in one
// place. pool/poold/main.cc starts one from its flags; the benchmarks and
// tests start theirs in process with the same code.
#ifndef ACCEL_POOL_POOLD_POOLD_H_
#define ACCEL_POOL_POOLD_POOLD_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "accel/hal/hal.h"

namespace accel::pool {

// What a poold is told. Each field is the poold flag of the same name; the
// flags (pool/poold/flags_*.cc) say what each does and take their defaults
// from here.
struct PooldOptions {
  // serving
  std::string listen = "127.0.0.1:7070";
  std::string advertise_address;
  bool bulk_channel = true;
  int32_t bulk_port = 0;
  std::string metrics_listen;
  std::string http_listen;
  double handshake_seconds = 10;

  // node
  std::string backends = "auto";
  int host_devices = 2;
  std::string host_device_memory = "1GiB";
  bool allow_host_kernels = false;
  double max_kernel_seconds = 0;
  double max_shared_kernel_seconds = 60;
  int max_sessions = 256;
  std::string session_worker;
  std::string node_name;  // "" = the host name
  std::string labels;
  std::string config;
  std::string exclude_devices;
  std::string coordinator;  // node mode when set

  // coordinator
  int lease_ttl = 30;
  int max_leases_per_tenant = 1024;
  std::string min_fraction = "16MiB";
  int node_heartbeat_ms = 1000;
  std::string tenants;
  std::string state;
  int election_ttl = 5;
  int etcd_compaction_minutes = 5;
  std::string placement = "binpack";
  int queue_starvation_after_ms = 30000;
  int dashboard_sample_seconds = 10;

  // security
  std::string join_token_file;
  std::string node_tokens;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  std::string coordinator_tls_ca;
  std::string operator_token_file;
  std::string operator_cn;
  std::string admin_socket;  // "" = the default path; "none" = no admin socket
  std::string metrics_password_file;
  std::string audit_log;
  std::string admin_group;
  std::string etcd_tls_ca;
  std::string etcd_tls_cert;
  std::string etcd_tls_key;
  std::string etcd_user;
  std::string etcd_password_file;
};

class Poold {
 public:
  // Checks the options, then starts everything they ask for and serves
  // until Shutdown(). A bad flag value is INVALID_ARGUMENT naming the flag
  // (FAILED_PRECONDITION for what this build or host lacks, UNAVAILABLE
  // for an address it cannot serve); a start that fails stops what it
  // started.
  static absl::StatusOr<std::unique_ptr<Poold>> Start(PooldOptions options);
  ~Poold();  // Shutdown(), if not done

  // Graceful: ends every session (their memory is freed) within about 2 s,
  // stops serving, writes what the state store still queues and resigns
  // leadership, so that a standby leads at once.
  void Shutdown();

  // Where clients reach this poold (its advertised address).
  const std::string& address() const;
  // "" for each that is not served.
  const std::string& admin_socket_path() const;
  const std::string& metrics_url() const;    // http://HOST:PORT/metrics
  const std::string& dashboard_url() const;  // http://HOST:PORT/
  // The node's name, its devices, and the coordinator it joined ("" when
  // it is its own pool's).
  const std::string& node_name() const;
  const std::vector<hal::Device>& devices() const;
  const std::string& joined_coordinator() const;
  // Whether it competes in an election (--state etcd://).
  bool elected() const;

  // Whether the TLS certificate files serve now (they are re-read within a
  // second of a change); OK when TLS is off.
  absl::Status CheckTlsFiles() const;

 private:
  struct Parts;
  explicit Poold(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_POOLD_POOLD_H_
