// poold: the accelpool daemon. In standalone mode (the default) one process
// is both the coordinator and the node serving this host's devices; other
// poolds join its pool with --coordinator (node mode) and serve theirs.
//
//   poold --listen 127.0.0.1:7070 [--backends auto|host,cuda,...]
//         [--host_devices 2] [--host_device_memory 1GiB] [--lease_ttl 30]
//         [--allow_host_kernels] [--node_name NAME] [--labels k=v,k=v]
//         [--config FILE] [--exclude_devices host:1,cuda:3]
//         [--coordinator HOST:PORT] [--join_token_file FILE]
//         [--advertise_address HOST:PORT]
//         [--tls_cert FILE --tls_key FILE [--tls_client_ca FILE]]
//
// The config file (see pool/poold/node_config.h) labels the node and single
// devices and excludes devices; the flags add to it.
//
// SIGHUP checks renewed TLS certificate files (poold picks them up by
// itself within a second) and logs whether they serve.
//
// SIGTERM or SIGINT shuts down gracefully: every session ends and every
// lease's memory is freed.
#include <grp.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <grpcpp/resource_quota.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "accel/hal/hal.h"
#include "pool/common/admin_socket_path.h"
#include "pool/common/audit_log.h"
#include "pool/common/loopback_host.h"
#include "pool/common/malloc_tuning.h"
#include "pool/common/mutex_tuning.h"
#include "pool/common/random_token.h"
#include "pool/common/session_metadata.h"
#include "pool/common/tls.h"
#include "pool/common/transport.h"
#include "pool/common/version.h"
#include "pool/coordinator/admin_socket.h"
#include "pool/coordinator/coordinator.h"
#include "pool/coordinator/coordinator_service.h"
#include "pool/coordinator/node_tokens.h"
#include "pool/coordinator/tenant_config.h"
#include "pool/node/bulk_listener.h"
#include "pool/node/coordinator_link.h"
#include "pool/node/node_agent.h"
#include "pool/node/node_service.h"
#include "pool/poold/flags.h"
#include "pool/poold/node_config.h"

#include "pool/coordinator/leadership.h"
#ifdef ACCEL_POOLD_STATE
#include "pool/coordinator/sqlite_state_store.h"
#endif
#ifdef ACCEL_POOLD_ETCD
#include "pool/coordinator/etcd_client.h"
#include "pool/coordinator/etcd_state_mirror.h"
#include "pool/coordinator/etcd_state_store.h"
#include "pool/coordinator/leader_election.h"
#endif
#ifdef ACCEL_POOLD_METRICS
#include "pool/coordinator/pool_metrics.h"
#include "prometheus/exposer.h"
#endif

namespace {

using accel::hal::Device;

int Fail(const std::string& message) {
  std::fprintf(stderr, "poold: %s\n", message.c_str());
  return 1;
}

bool IsEtcdState(const std::string& state) { return state.rfind("etcd://", 0) == 0; }

std::string HostName() {
  char name[256] = {};
  gethostname(name, sizeof(name) - 1);
  return name[0] != '\0' ? name : "node";
}

// The devices to serve, by the --backends rule, less the excluded ones.
absl::StatusOr<std::vector<Device>> SelectDevices(const accel::hal::Registry& registry,
                                                  const std::string& backends,
                                                  const std::set<std::string>& excluded) {
  std::vector<Device> devices;
  if (backends == "none") return devices;  // a coordinator serving no devices itself
  if (backends == "auto") {
    for (const accel::hal::Backend& b : registry.backends()) {
      if (b.name() != "host" && b.name() != "remote") {
        devices.insert(devices.end(), b.devices().begin(), b.devices().end());
      }
    }
    if (devices.empty()) {
      absl::StatusOr<accel::hal::Backend> host = registry.GetBackend("host");
      if (host.ok()) devices = host->devices();
    }
  } else {
    for (absl::string_view name : absl::StrSplit(backends, ',', absl::SkipEmpty())) {
      absl::StatusOr<accel::hal::Backend> b = registry.GetBackend(name);
      if (!b.ok()) return b.status();
      if (!b->available()) {
        return absl::FailedPreconditionError(
            absl::StrCat("backend ", name, " has no devices: ", b->unavailable_reason()));
      }
      devices.insert(devices.end(), b->devices().begin(), b->devices().end());
    }
  }
  for (const std::string& id : excluded) {
    if (!registry.GetDevice(id).ok()) {
      return absl::InvalidArgumentError(absl::StrCat("cannot exclude ", id, ": no such device"));
    }
  }
  devices.erase(std::remove_if(devices.begin(), devices.end(),
                               [&](const Device& d) { return excluded.count(d.id()) != 0; }),
                devices.end());
  if (devices.empty()) return absl::FailedPreconditionError("no devices to serve");
  return devices;
}

// A coordinator restored from its state store, with the tenant file's
// tenants it lacks added.
absl::StatusOr<std::shared_ptr<accel::pool::Coordinator>> StartCoordinator(
    const accel::pool::Coordinator::Options& options,
    const std::vector<accel::pool::Tenant>& seed_tenants) {
  auto coordinator = std::make_shared<accel::pool::Coordinator>(options);
  if (absl::Status s = coordinator->Restore(); !s.ok()) return s;
  for (const accel::pool::Tenant& tenant : seed_tenants) {
    absl::StatusOr<bool> added = coordinator->SeedTenant(tenant);
    if (!added.ok()) return added.status();
    if (!*added) {
      std::fprintf(stderr,
                   "poold: tenant %s is kept as the state store has it (the tenant file "
                   "only adds tenants the pool does not have)\n",
                   tenant.name.c_str());
    }
  }
  return coordinator;
}

// A secret from the first line of a file, so it is not on the command line
// for every user to see; "" when no file is named.
absl::StatusOr<std::string> ReadSecretFile(const std::string& path, const char* what,
                                           size_t min_length = 16) {
  if (path.empty()) return std::string();
  std::ifstream in(path);
  std::string token;
  if (!in || !std::getline(in, token)) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read ", what, " from ", path));
  }
  token = std::string(absl::StripAsciiWhitespace(token));
  if (token.size() < min_length) {
    return absl::InvalidArgumentError(
        absl::StrCat("the ", what, " in ", path, " is shorter than ", min_length, " characters"));
  }
  return token;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "the accelpool daemon: leases this host's accelerators.\n\n"
      "  poold [FLAGS]                        a pool on this host (coordinator and node)\n"
      "  poold --coordinator HOST:PORT ...    a node joining that pool\n"
      "  poold --flagfile=/etc/accelpool/FILE flags from a file, one a line\n\n"
      "--help lists poold's flags by role; --helpfull adds the libraries' own.");
  absl::FlagsUsageConfig usage;
  // Flags are grouped by role in pool/poold/flags_*.cc; absl lists a
  // program's flags by the file that defines them.
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::StrContains(file, "pool/poold/flags_");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  usage.normalize_filename = [](absl::string_view file) {
    const size_t at = file.find("pool/poold/");
    return std::string(at == absl::string_view::npos ? file : file.substr(at));
  };
  absl::SetFlagsUsageConfig(usage);
  absl::ParseCommandLine(argc, argv);
  accel::pool::TuneMallocForBulkTransfers();
  accel::pool::DisableMutexDeadlockDetection();

  // Signals are taken by sigwait below, never by a handler in a random thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // A daemon must not die because whoever read its stdout went away.
  signal(SIGPIPE, SIG_IGN);
  // Every client connection costs a descriptor: with the usual soft limit of
  // 1024, a flood of idle connections would leave none for real clients.
  if (rlimit files{}; getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }

  if (absl::GetFlag(FLAGS_lease_ttl) <= 0) return Fail("--lease_ttl must be positive");
  if (absl::GetFlag(FLAGS_host_devices) < 0) return Fail("--host_devices must be >= 0");
  accel::pool::NodeConfig config;
  if (!absl::GetFlag(FLAGS_config).empty()) {
    absl::StatusOr<accel::pool::NodeConfig> read =
        accel::pool::ReadNodeConfig(absl::GetFlag(FLAGS_config));
    if (!read.ok()) return Fail(read.status().ToString());
    config = *std::move(read);
  }
  absl::StatusOr<accel::pool::Labels> flag_labels =
      accel::pool::ParseLabels(absl::GetFlag(FLAGS_labels));
  if (!flag_labels.ok()) return Fail(flag_labels.status().ToString());
  for (const auto& [key, value] : *flag_labels) config.node_labels[key] = value;
  for (absl::string_view id :
       absl::StrSplit(absl::GetFlag(FLAGS_exclude_devices), ',', absl::SkipEmpty())) {
    config.excluded.emplace(id);
  }

  accel::hal::RegistryOptions registry_options;
  registry_options.backend_options["host"] = {
      {"devices", std::to_string(absl::GetFlag(FLAGS_host_devices))},
      {"device_memory", absl::GetFlag(FLAGS_host_device_memory)}};
  // poold serves local devices; it never leases from another pool itself.
  for (const char* name : {"host", "cuda", "rocm", "levelzero"}) {
    registry_options.only.emplace_back(name);
  }
  absl::StatusOr<std::unique_ptr<accel::hal::Registry>> registry =
      accel::hal::Registry::Create(registry_options);
  if (!registry.ok()) return Fail(registry.status().ToString());
  for (const accel::hal::PluginLoadFailure& f : (*registry)->load_failures()) {
    std::fprintf(stderr, "poold: backend not loaded: %s: %s\n", f.library_path.c_str(),
                 f.reason.c_str());
  }
  // The coordinators of a highly available pool serve no devices: the
  // nodes that do follow whichever of them leads (--coordinator A,B,C).
  const bool elected = IsEtcdState(absl::GetFlag(FLAGS_state));
  std::string backends = absl::GetFlag(FLAGS_backends);
  if (elected && backends != "auto" && backends != "none") {
    return Fail(
        "a coordinator with --state etcd:// serves no devices itself: serve them from "
        "node-mode poolds (--coordinator with every coordinator's address)");
  }
  if (elected) backends = "none";
  absl::StatusOr<std::vector<Device>> devices =
      SelectDevices(**registry, backends, config.excluded);
  if (!devices.ok()) return Fail(devices.status().ToString());

  absl::StatusOr<std::string> join_token =
      ReadSecretFile(absl::GetFlag(FLAGS_join_token_file), "a join token");
  if (!join_token.ok()) return Fail(join_token.status().ToString());
  absl::StatusOr<std::string> operator_token =
      ReadSecretFile(absl::GetFlag(FLAGS_operator_token_file), "an operator token");
  if (!operator_token.ok()) return Fail(operator_token.status().ToString());
  const std::string coordinator_address = absl::GetFlag(FLAGS_coordinator);
  const bool node_mode = !coordinator_address.empty();
  if (node_mode && devices->empty()) return Fail("a node must serve at least one device");
  if (node_mode && !absl::GetFlag(FLAGS_audit_log).empty()) {
    return Fail("--audit_log is kept by the coordinator; this poold is a node");
  }
  if (absl::GetFlag(FLAGS_node_heartbeat_ms) < 50) return Fail("--node_heartbeat_ms below 50");
  const std::chrono::milliseconds heartbeat(absl::GetFlag(FLAGS_node_heartbeat_ms));

  // Standalone: the coordinator is here and admits this node's sessions
  // itself. Node mode: the link to the pool's coordinator does.
  std::unique_ptr<accel::pool::StateStore> store;  // outlives the coordinator
  std::unique_ptr<accel::pool::AuditLog> audit;    // likewise
  // Which coordinator serves: this process's, or (elected) the term's.
  std::unique_ptr<accel::pool::Leadership> leadership;
  std::shared_ptr<accel::pool::Coordinator> coordinator;  // one that is not elected
  accel::pool::Coordinator::Options coordinator_options;
  std::vector<accel::pool::Tenant> seed_tenants;
#ifdef ACCEL_POOLD_ETCD
  std::unique_ptr<accel::pool::EtcdClient> etcd;
  std::unique_ptr<accel::pool::EtcdStateMirror> mirror;  // a standby's warm state
  accel::pool::EtcdStateStore* etcd_store = nullptr;     // owned by `store`
  std::unique_ptr<accel::pool::LeaderElection> election;
#endif
  std::unique_ptr<accel::pool::CoordinatorLink> link;
  accel::pool::LeaseAuthority* authority = nullptr;
  const accel::pool::TlsFiles tls{absl::GetFlag(FLAGS_tls_client_ca), absl::GetFlag(FLAGS_tls_cert),
                                  absl::GetFlag(FLAGS_tls_key)};
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> server_credentials =
      accel::pool::ServerCredentials(tls);
  if (!server_credentials.ok()) return Fail(server_credentials.status().ToString());
  const bool tls_on = !tls.empty();
  if (node_mode) {
    accel::pool::CoordinatorLink::Options link_options;
    link_options.coordinator = coordinator_address;
    link_options.join_token = *join_token;
    // TLS to the coordinator with this node's certificate, which names it.
    const accel::pool::TlsFiles link_tls{absl::GetFlag(FLAGS_coordinator_tls_ca).empty()
                                             ? tls.ca
                                             : absl::GetFlag(FLAGS_coordinator_tls_ca),
                                         tls.cert, tls.key};
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
        accel::pool::ClientCredentials(link_tls);
    if (!credentials.ok()) return Fail(credentials.status().ToString());
    link_options.credentials = *std::move(credentials);
    absl::StatusOr<std::unique_ptr<accel::pool::CoordinatorLink>> made =
        accel::pool::CoordinatorLink::Create(link_options);
    if (!made.ok()) return Fail(absl::StrCat("--coordinator: ", made.status().message()));
    link = *std::move(made);
    authority = link.get();
  } else {
    coordinator_options.default_ttl_seconds = static_cast<uint32_t>(absl::GetFlag(FLAGS_lease_ttl));
    coordinator_options.node_heartbeat = heartbeat;
    coordinator_options.join_token = *join_token;
    coordinator_options.require_node_certificates = !tls.ca.empty();
    if (!absl::GetFlag(FLAGS_node_tokens).empty()) {
      absl::StatusOr<std::map<std::string, std::string>> node_tokens =
          accel::pool::ReadNodeTokens(absl::GetFlag(FLAGS_node_tokens));
      if (!node_tokens.ok()) return Fail(node_tokens.status().ToString());
      coordinator_options.node_token_sha256 = *std::move(node_tokens);
    }
    if (!absl::GetFlag(FLAGS_audit_log).empty()) {
      absl::StatusOr<std::unique_ptr<accel::pool::AuditLog>> opened =
          accel::pool::AuditLog::Open(absl::GetFlag(FLAGS_audit_log));
      if (!opened.ok()) return Fail(opened.status().ToString());
      audit = *std::move(opened);
      coordinator_options.audit = audit.get();
    }
    if (!operator_token->empty()) {
      coordinator_options.operator_token_sha256 =
          accel::pool::TenantRegistry::HashToken(*operator_token);
    }
    coordinator_options.default_policy = absl::GetFlag(FLAGS_placement);
    if (coordinator_options.default_policy != "binpack" &&
        coordinator_options.default_policy != "spread") {
      return Fail("--placement must be binpack or spread");
    }
    if (absl::GetFlag(FLAGS_queue_starvation_after_ms) < 0) {
      return Fail("--queue_starvation_after_ms below 0");
    }
    coordinator_options.starvation_after =
        std::chrono::milliseconds(absl::GetFlag(FLAGS_queue_starvation_after_ms));
    if (absl::GetFlag(FLAGS_max_leases_per_tenant) < 0) return Fail("--max_leases_per_tenant < 0");
    coordinator_options.max_leases_per_tenant =
        static_cast<uint32_t>(absl::GetFlag(FLAGS_max_leases_per_tenant));
    absl::StatusOr<uint64_t> min_fraction =
        accel::hal::ParseByteSize(absl::GetFlag(FLAGS_min_fraction));
    if (!min_fraction.ok())
      return Fail(absl::StrCat("--min_fraction: ", min_fraction.status().message()));
    coordinator_options.min_fraction_bytes = *min_fraction;
    const std::string state = absl::GetFlag(FLAGS_state);
    if (elected) {
#ifdef ACCEL_POOLD_ETCD
      absl::StatusOr<accel::pool::EtcdLocation> location = accel::pool::ParseEtcdUrl(state);
      if (!location.ok()) return Fail(absl::StrCat("--state: ", location.status().message()));
      accel::pool::EtcdClient::Options etcd_options;
      etcd_options.location = *std::move(location);
      etcd_options.tls = {absl::GetFlag(FLAGS_etcd_tls_ca), absl::GetFlag(FLAGS_etcd_tls_cert),
                          absl::GetFlag(FLAGS_etcd_tls_key)};
      etcd_options.user = absl::GetFlag(FLAGS_etcd_user);
      absl::StatusOr<std::string> password =
          ReadSecretFile(absl::GetFlag(FLAGS_etcd_password_file), "etcd password", 1);
      if (!password.ok()) return Fail(password.status().ToString());
      etcd_options.password = *std::move(password);
      absl::StatusOr<std::unique_ptr<accel::pool::EtcdClient>> connected =
          accel::pool::EtcdClient::Connect(std::move(etcd_options));
      if (!connected.ok()) return Fail(connected.status().ToString());
      etcd = *std::move(connected);
      if (absl::GetFlag(FLAGS_election_ttl) < 2 || absl::GetFlag(FLAGS_election_ttl) > 600) {
        return Fail("--election_ttl must be 2 to 600 seconds");
      }
      auto etcd_state = std::make_unique<accel::pool::EtcdStateStore>(*etcd);
      etcd_store = etcd_state.get();
      // While standing by, the state is kept warm for a quick takeover.
      mirror = std::make_unique<accel::pool::EtcdStateMirror>(*etcd);
      etcd_store->UseMirror(mirror.get());
      store = std::move(etcd_state);
      coordinator_options.store = store.get();
      coordinator_options.rejoin_grace = std::max(heartbeat * 10, std::chrono::milliseconds(5000));
#else
      return Fail("this poold was built without etcd's client (golang-etcd-server-dev)");
#endif
    }
#ifdef ACCEL_POOLD_STATE
    if (const std::string& path = state; !elected && !path.empty()) {
      absl::StatusOr<std::unique_ptr<accel::pool::SqliteStateStore>> opened =
          accel::pool::SqliteStateStore::Open(path);
      if (!opened.ok()) return Fail(opened.status().ToString());
      store = *std::move(opened);
      coordinator_options.store = store.get();
      coordinator_options.rejoin_grace = std::max(heartbeat * 10, std::chrono::milliseconds(5000));
    }
#else
    if (!elected && !state.empty()) return Fail("this poold was built without SQLite");
#endif
    if (const std::string path = absl::GetFlag(FLAGS_tenants); !path.empty()) {
      absl::StatusOr<std::vector<accel::pool::Tenant>> tenants =
          accel::pool::ReadTenantConfig(path);
      if (!tenants.ok()) return Fail(tenants.status().ToString());
      seed_tenants = *std::move(tenants);
    }
    if (!elected) {
      absl::StatusOr<std::shared_ptr<accel::pool::Coordinator>> started =
          StartCoordinator(coordinator_options, seed_tenants);
      if (!started.ok()) return Fail(started.status().ToString());
      coordinator = *std::move(started);
      leadership = std::make_unique<accel::pool::Leadership>(
          coordinator, state.empty() ? "memory" : absl::StrCat("sqlite ", state));
    } else {
#ifdef ACCEL_POOLD_ETCD
      // Where the leader is, while this process is not it.
      leadership = std::make_unique<accel::pool::Leadership>([&election, &etcd, state] {
        accel::pool::ControlPlaneView view;
        view.role = "electing";
        view.state_store = absl::StrCat("etcd ", state.substr(7));
        if (election == nullptr) return view;
        const accel::pool::LeaderElection::View v = election->view();
        view.role = v.role == accel::pool::LeaderElection::Role::kLeader    ? "leader"
                    : v.role == accel::pool::LeaderElection::Role::kStandby ? "standby"
                                                                            : "electing";
        view.leader_address = v.leader_address;
        view.store_health = v.etcd;
        view.store_round_trip = etcd->last_round_trip();
        view.coordinators = v.candidates;
        return view;
      });
#endif
    }
    authority = leadership.get();
  }
  accel::pool::NodeAgent::Options node_options;
  node_options.name =
      absl::GetFlag(FLAGS_node_name).empty() ? HostName() : absl::GetFlag(FLAGS_node_name);
  node_options.allow_host_kernels = absl::GetFlag(FLAGS_allow_host_kernels);
  node_options.worker_path = absl::GetFlag(FLAGS_session_worker);
  node_options.backend_options = registry_options.backend_options;
  if (absl::GetFlag(FLAGS_max_kernel_seconds) < 0 ||
      absl::GetFlag(FLAGS_max_shared_kernel_seconds) < 0) {
    return Fail("--max_kernel_seconds and --max_shared_kernel_seconds must be >= 0");
  }
  auto seconds = [](double s) { return std::chrono::milliseconds(static_cast<int64_t>(s * 1000)); };
  node_options.max_kernel_time = seconds(absl::GetFlag(FLAGS_max_kernel_seconds));
  if (absl::GetFlag(FLAGS_max_sessions) < 1) return Fail("--max_sessions must be at least 1");
  node_options.max_sessions = static_cast<size_t>(absl::GetFlag(FLAGS_max_sessions));
  if (absl::GetFlag(FLAGS_handshake_seconds) <= 0) {
    return Fail("--handshake_seconds must be positive");
  }
  node_options.max_shared_kernel_time = seconds(absl::GetFlag(FLAGS_max_shared_kernel_seconds));
  node_options.labels = config.node_labels;
  node_options.device_labels = config.device_labels;
  accel::pool::NodeAgent agent(node_options, *devices, *authority);
  std::unique_ptr<accel::pool::CoordinatorService> coordinator_service;
  if (leadership != nullptr) {
    accel::pool::CoordinatorService::Access access;
    for (absl::string_view name :
         absl::StrSplit(absl::GetFlag(FLAGS_operator_cn), ',', absl::SkipEmpty())) {
      access.operator_names.insert(std::string(name));
    }
    if (!access.operator_names.empty() && tls.ca.empty()) {
      return Fail("--operator_cn needs --tls_client_ca, to verify the certificates it names");
    }
    coordinator_service =
        std::make_unique<accel::pool::CoordinatorService>(*leadership, heartbeat, access);
  }
  accel::pool::NodeService node_service(agent);
  std::string host = absl::GetFlag(FLAGS_listen);
  host = host.substr(0, host.rfind(':'));
  // A wildcard listen address is no address to give clients: a node must be
  // told what they reach it at; a standalone pool offers its host name.
  const bool wildcard = host == "0.0.0.0" || host == "[::]" || host == "::" || host.empty();
  if (wildcard && node_mode && absl::GetFlag(FLAGS_advertise_address).empty()) {
    return Fail(absl::StrCat("--listen ", absl::GetFlag(FLAGS_listen),
                             " is a wildcard: say which address clients reach this node at "
                             "with --advertise_address HOST:PORT"));
  }
  if (wildcard && absl::GetFlag(FLAGS_advertise_address).empty()) {
    char name[256] = {};
    gethostname(name, sizeof(name) - 1);
    host = name;
    std::fprintf(stderr,
                 "poold: listening on a wildcard address; clients are sent to %s (set "
                 "--advertise_address if they reach this host by another name)\n",
                 name);
  }
  std::unique_ptr<accel::pool::BulkListener> bulk_listener;
  if (absl::GetFlag(FLAGS_bulk_channel)) {
    const int32_t bulk_port = absl::GetFlag(FLAGS_bulk_port);
    if (bulk_port < 0 || bulk_port > 65535) {
      return Fail(absl::StrCat("--bulk_port ", bulk_port, " is not a port"));
    }
    // Under TLS the bulk channel is TLS with the same files.
    std::unique_ptr<accel::pool::BulkTlsServer> bulk_tls;
    if (tls_on) {
      absl::StatusOr<std::unique_ptr<accel::pool::BulkTlsServer>> made =
          accel::pool::BulkTlsServer::Create(tls);
      if (!made.ok()) return Fail(made.status().ToString());
      bulk_tls = *std::move(made);
    }
    absl::StatusOr<std::unique_ptr<accel::pool::BulkListener>> started =
        accel::pool::BulkListener::Start(
            accel::pool::HostOfAddress(absl::GetFlag(FLAGS_listen)),
            static_cast<uint16_t>(bulk_port), std::move(bulk_tls),
            [&agent](const std::string& key, std::unique_ptr<accel::pool::BulkSocket>& socket) {
              return agent.AttachBulk(key, socket);
            });
    if (!started.ok()) return Fail(started.status().ToString());
    bulk_listener = *std::move(started);
    agent.OfferBulkChannel(bulk_listener->port());
  }

  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::GetFlag(FLAGS_listen), *server_credentials, &port);
  // Operator calls from this host: the admin socket, a Unix socket that
  // only root, poold's user and the admin group can connect to, whose
  // connections poold hands to the same server (admin_socket.h).
  std::unique_ptr<accel::pool::AdminSocket> admin_socket;
  const bool default_admin_socket = absl::GetFlag(FLAGS_admin_socket).empty();
  if (coordinator_service != nullptr && absl::GetFlag(FLAGS_admin_socket) != "none") {
    gid_t admin_group = static_cast<gid_t>(-1);
    if (!absl::GetFlag(FLAGS_admin_group).empty()) {
      const group* g = getgrnam(absl::GetFlag(FLAGS_admin_group).c_str());
      if (g == nullptr) return Fail("no group named " + absl::GetFlag(FLAGS_admin_group));
      admin_group = g->gr_gid;
    }
    absl::StatusOr<std::unique_ptr<accel::pool::AdminSocket>> listening =
        accel::pool::AdminSocket::Listen(absl::GetFlag(FLAGS_admin_socket), admin_group);
    if (!listening.ok() && !default_admin_socket) return Fail(listening.status().ToString());
    if (listening.ok()) {
      admin_socket = *std::move(listening);
      coordinator_service->set_admin_socket(true);
    } else {
      std::fprintf(stderr, "poold: no admin socket: %s\n", listening.status().ToString().c_str());
    }
  }
  if (!tls_on && !accel::pool::IsLoopbackHost(host)) {
    std::fprintf(stderr,
                 "poold: WARNING: serving plaintext on %s: tokens and tenants' data cross the "
                 "network in clear; use --tls_cert and --tls_key beyond loopback\n",
                 absl::GetFlag(FLAGS_listen).c_str());
  }
  if (coordinator_service != nullptr) builder.RegisterService(coordinator_service.get());
  builder.RegisterService(&node_service);
  accel::pool::ApplyBulkTransferSettings(builder);
  // Clients ping to detect a cut network (every second at most); accept
  // that, and close connections that ping faster.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 500);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 2);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Listener bounds: a connection that has not finished its handshake
  // (TLS, HTTP/2 preface) within --handshake_seconds is closed; a call's
  // metadata, where sessions carry their credentials, is at most 16 KiB;
  // one connection carries at most 128 calls at once; the server's threads are
  // bounded (a call beyond them is RESOURCE_EXHAUSTED, poold never aborts
  // for want of a thread): a session holds one, so room for every session
  // and the calls beside them.
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
                             static_cast<int>(absl::GetFlag(FLAGS_handshake_seconds) * 1000));
  builder.AddChannelArgument(GRPC_ARG_MAX_METADATA_SIZE, accel::pool::kMaxMetadataBytes);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, 128);
  grpc::ResourceQuota quota("poold");
  quota.SetMaxThreads(2 * absl::GetFlag(FLAGS_max_sessions) + 128);
  builder.SetResourceQuota(quota);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return Fail(absl::StrCat("cannot listen on ", absl::GetFlag(FLAGS_listen)));
  }
  const std::string address = absl::GetFlag(FLAGS_advertise_address).empty()
                                  ? absl::StrCat(host, ":", port)
                                  : absl::GetFlag(FLAGS_advertise_address);
  if (admin_socket != nullptr) {
    admin_socket->Serve(server.get());
    absl::Status published = admin_socket->Publish(port);
    if (!published.ok() && !default_admin_socket) return Fail(published.ToString());
    if (published.ok()) {
      std::printf("poold admin socket at %s\n", admin_socket->path().c_str());
    } else {
      std::fprintf(stderr, "poold: no admin socket: %s\n", published.ToString().c_str());
      admin_socket.reset();
      coordinator_service->set_admin_socket(false);
    }
  }

  if (node_mode) {
    accel::pool::CoordinatorLink::NodeView view;
    view.listener = &agent;
    const std::string instance = accel::pool::RandomHex(8);
    view.hello = [&agent, &node_options, address, instance] {
      accelpool::v1::NodeHello hello;
      hello.set_name(node_options.name);
      hello.set_address(address);
      hello.set_instance(instance);
      for (const auto& [key, value] : node_options.labels) (*hello.mutable_labels())[key] = value;
      for (accelpool::v1::DeviceInfo& d : agent.DeviceInfos()) *hello.add_devices() = std::move(d);
      for (const std::string& id : agent.OpenLeases()) hello.add_open_leases(id);
      return hello;
    };
    absl::Status joined = link->Start(std::move(view), std::chrono::seconds(5));
    if (!joined.ok() && joined.code() != absl::StatusCode::kUnavailable) {
      server->Shutdown();
      link->Stop();
      return Fail(absl::StrCat("coordinator ", coordinator_address,
                               " refused this node: ", joined.ToString()));
    }
    if (!joined.ok()) std::fprintf(stderr, "poold: %s\n", joined.ToString().c_str());
  } else if (coordinator != nullptr) {
    coordinator->AddNode(node_options.name, address, node_options.labels, agent.DeviceInfos(),
                         &agent);
  }
#ifdef ACCEL_POOLD_ETCD
  if (etcd != nullptr) {
    // Each term as leader gets a fresh coordinator, restored from etcd,
    // whose writes commit only while the term lasts.
    accel::pool::LeaderElection::Callbacks terms;
    terms.elected = [&](const accel::pool::LeaderElection::Term& term) {
      etcd_store->Fence(term.key, term.revision, term.elected_at, [&election] {
        election->Lost(absl::FailedPreconditionError(
            "a write found this coordinator's election key gone: another leads"));
      });
      absl::StatusOr<std::shared_ptr<accel::pool::Coordinator>> started =
          StartCoordinator(coordinator_options, seed_tenants);
      if (!started.ok()) {
        election->Lost(started.status());
        return;
      }
      leadership->Install(*std::move(started));
    };
    terms.deposed = [&](const absl::Status&) {
      etcd_store->Unfence();
      if (std::shared_ptr<accel::pool::Coordinator> ended = leadership->Remove()) ended->Resign();
    };
    accel::pool::LeaderElection::Options election_options;
    election_options.ttl_seconds = absl::GetFlag(FLAGS_election_ttl);
    election_options.address = address;
    election = std::make_unique<accel::pool::LeaderElection>(*etcd, election_options, terms);
    election->Start();
    std::printf("poold coordinator of the pool in %s (electing a leader, etcd lease %d s)\n",
                absl::GetFlag(FLAGS_state).c_str(), absl::GetFlag(FLAGS_election_ttl));
  }
#endif

#ifdef ACCEL_POOLD_METRICS
  std::unique_ptr<prometheus::Exposer> exposer;
  std::shared_ptr<accel::pool::PoolMetrics> metrics;
  if (!absl::GetFlag(FLAGS_metrics_listen).empty()) {
    if (leadership == nullptr) {
      return Fail("--metrics_listen is served by the coordinator; this poold is a node");
    }
    try {  // civetweb reports a port it cannot bind by throwing
      exposer = std::make_unique<prometheus::Exposer>(absl::GetFlag(FLAGS_metrics_listen), 1);
    } catch (const std::exception& e) {
      return Fail(absl::StrCat("cannot serve metrics on ", absl::GetFlag(FLAGS_metrics_listen),
                               ": ", e.what()));
    }
    if (!absl::GetFlag(FLAGS_metrics_password_file).empty()) {
      absl::StatusOr<std::string> password =
          ReadSecretFile(absl::GetFlag(FLAGS_metrics_password_file), "a metrics password");
      if (!password.ok()) return Fail(password.status().ToString());
      exposer->RegisterAuth(
          [password = *password](const std::string&, const std::string& given) {
            return accel::pool::SecretsEqual(given, password);
          },
          "accelpool metrics");
    } else if (!accel::pool::IsLoopbackHost(
                   accel::pool::HostOfAddress(absl::GetFlag(FLAGS_metrics_listen)))) {
      std::fprintf(stderr,
                   "poold: WARNING: metrics on %s without --metrics_password_file: anyone who "
                   "reaches it sees every tenant's use\n",
                   absl::GetFlag(FLAGS_metrics_listen).c_str());
    }
    metrics = std::make_shared<accel::pool::PoolMetrics>(*leadership);
    exposer->RegisterCollectable(metrics);
    const std::string metrics_host =
        accel::pool::HostOfAddress(absl::GetFlag(FLAGS_metrics_listen));
    std::printf("poold metrics on http://%s:%d/metrics\n", metrics_host.c_str(),
                exposer->GetListeningPorts().at(0));
  }
#else
  if (!absl::GetFlag(FLAGS_metrics_listen).empty()) {
    return Fail("this poold was built without prometheus-cpp: no --metrics_listen");
  }
#endif

  std::printf("poold listening on %s, node %s serving %zu device(s)%s\n", address.c_str(),
              node_options.name.c_str(), devices->size(),
              node_mode ? absl::StrCat(" in the pool of ", coordinator_address).c_str() : "");
  std::fflush(stdout);

  int signal = 0;
  for (;;) {
    sigwait(&signals, &signal);
    if (signal != SIGHUP) break;
    // The certificate files are watched and re-read within a second of a
    // change, without dropping sessions; SIGHUP says whether they serve.
    if (tls_on) {
      absl::Status usable = accel::pool::CheckServerFiles(tls);
      std::fprintf(stderr, "poold: SIGHUP: %s\n",
                   usable.ok() ? "the TLS certificate files serve, and are in use"
                               : absl::StrCat("the TLS files do not serve (the previous ones "
                                              "stay in use): ",
                                              usable.message())
                                     .c_str());
    }
  }
  std::printf("poold: %s, shutting down\n", signal == SIGTERM ? "SIGTERM" : "SIGINT");
  std::fflush(stdout);
  // Ends every session (their handlers free what they hold) within 2 s.
  agent.EndAll(absl::UnavailableError(absl::StrCat("node ", node_options.name, " shut down")));
  admin_socket.reset();  // hands the server no more connections
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  // Before the node agent they notify is destroyed.
  if (coordinator != nullptr) coordinator->Stop();
#ifdef ACCEL_POOLD_ETCD
  // What the last grants and releases queued is written while this one
  // still leads, so that its successor restores no released lease. Then
  // it resigns: a standby leads at once, not at the end of this one's lease.
  if (etcd_store != nullptr) etcd_store->Flush();
  if (election != nullptr) election->Stop();
  // Queued writes go out, and the watch ends, while etcd's client is here.
  store.reset();
  mirror.reset();
#endif
  if (link != nullptr) link->Stop();
  return 0;
}
