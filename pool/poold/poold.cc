#include "pool/poold/poold.h"

#include <grp.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>

#include <grpcpp/grpcpp.h>
#include <grpcpp/resource_quota.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "pool/common/admin_socket_path.h"
#include "pool/common/audit_log.h"
#include "pool/common/loopback_host.h"
#include "pool/common/random_token.h"
#include "pool/common/session_metadata.h"
#include "pool/common/tls.h"
#include "pool/common/transport.h"
#include "pool/coordinator/admin_socket.h"
#include "pool/coordinator/coordinator.h"
#include "pool/coordinator/coordinator_service.h"
#include "pool/coordinator/leadership.h"
#include "pool/coordinator/node_tokens.h"
#include "pool/coordinator/tenant_config.h"
#include "pool/node/bulk_listener.h"
#include "pool/node/coordinator_link.h"
#include "pool/node/node_agent.h"
#include "pool/node/node_service.h"
#include "pool/poold/node_config.h"
#ifdef ACCEL_POOLD_STATE
#include "pool/coordinator/sqlite_state_store.h"
#endif
#ifdef ACCEL_POOLD_ETCD
#include "pool/coordinator/etcd_client.h"
#include "pool/coordinator/etcd_compactor.h"
#include "pool/coordinator/etcd_state_mirror.h"
#include "pool/coordinator/etcd_state_store.h"
#include "pool/coordinator/leader_election.h"
#endif
#ifdef ACCEL_POOLD_METRICS
#include "pool/coordinator/pool_metrics.h"
#include "prometheus/exposer.h"
#endif
#ifdef ACCEL_POOLD_DASHBOARD
#include "pool/coordinator/dashboard/dashboard_server.h"
#include "pool/coordinator/dashboard/pool_history.h"
#endif

namespace accel::pool {
namespace {

using hal::Device;

absl::Status Invalid(std::string message) { return absl::InvalidArgumentError(std::move(message)); }

bool IsEtcdState(const std::string& state) { return state.rfind("etcd://", 0) == 0; }

std::string HostName() {
  char name[256] = {};
  gethostname(name, sizeof(name) - 1);
  return name[0] != '\0' ? name : "node";
}

// The devices to serve, by the --backends rule, less the excluded ones.
absl::StatusOr<std::vector<Device>> SelectDevices(const hal::Registry& registry,
                                                  const std::string& backends,
                                                  const std::set<std::string>& excluded) {
  std::vector<Device> devices;
  if (backends == "none") return devices;  // a coordinator serving no devices itself
  if (backends == "auto") {
    for (const hal::Backend& b : registry.backends()) {
      if (b.name() != "host" && b.name() != "remote") {
        devices.insert(devices.end(), b.devices().begin(), b.devices().end());
      }
    }
    if (devices.empty()) {
      absl::StatusOr<hal::Backend> host = registry.GetBackend("host");
      if (host.ok()) devices = host->devices();
    }
  } else {
    for (absl::string_view name : absl::StrSplit(backends, ',', absl::SkipEmpty())) {
      absl::StatusOr<hal::Backend> b = registry.GetBackend(name);
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
      return Invalid(absl::StrCat("cannot exclude ", id, ": no such device"));
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
absl::StatusOr<std::shared_ptr<Coordinator>> StartCoordinator(
    const Coordinator::Options& options, const std::vector<Tenant>& seed_tenants) {
  auto coordinator = std::make_shared<Coordinator>(options);
  if (absl::Status s = coordinator->Restore(); !s.ok()) return s;
  for (const Tenant& tenant : seed_tenants) {
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
    return Invalid(absl::StrCat("cannot read ", what, " from ", path));
  }
  token = std::string(absl::StripAsciiWhitespace(token));
  if (token.size() < min_length) {
    return Invalid(
        absl::StrCat("the ", what, " in ", path, " is shorter than ", min_length, " characters"));
  }
  return token;
}

// http://HOST:PORT/PATH, with an IPv6 host in brackets.
std::string Url(const std::string& listen, int port, absl::string_view path) {
  const std::string host = HostOfAddress(listen);
  return absl::StrCat("http://", absl::StrContains(host, ':') ? absl::StrCat("[", host, "]") : host,
                      ":", port, path);
}

std::chrono::milliseconds Seconds(double s) {
  return std::chrono::milliseconds(static_cast<int64_t>(s * 1000));
}

}  // namespace

// Declared in the order they are built: each part may use those above it,
// and they are destroyed in the reverse order.
struct Poold::Parts {
  PooldOptions options;
  TlsFiles tls;
  hal::RegistryOptions registry_options;
  std::unique_ptr<hal::Registry> registry;
  std::vector<Device> devices;
  bool elected = false;
  std::string operator_token_sha256;

  std::unique_ptr<StateStore> store;  // outlives the coordinator
  std::unique_ptr<AuditLog> audit;    // likewise
  // Which coordinator serves: this process's, or (elected) the term's.
  std::unique_ptr<Leadership> leadership;
  std::shared_ptr<Coordinator> coordinator;  // one that is not elected
  Coordinator::Options coordinator_options;
  std::vector<Tenant> seed_tenants;
#ifdef ACCEL_POOLD_ETCD
  std::unique_ptr<EtcdClient> etcd;
  std::unique_ptr<EtcdStateMirror> mirror;  // a standby's warm state
  EtcdStateStore* etcd_store = nullptr;     // owned by `store`
  std::unique_ptr<LeaderElection> election;
  std::unique_ptr<EtcdCompactor> compactor;  // the leader's
#endif
  std::unique_ptr<CoordinatorLink> link;  // node mode
  LeaseAuthority* authority = nullptr;

  NodeAgent::Options node_options;
  std::unique_ptr<NodeAgent> agent;
  std::unique_ptr<CoordinatorService> coordinator_service;
  std::unique_ptr<NodeService> node_service;
  std::unique_ptr<BulkListener> bulk_listener;
  std::unique_ptr<grpc::ResourceQuota> quota;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<AdminSocket> admin_socket;
  std::string address;
  std::string admin_socket_path;
#ifdef ACCEL_POOLD_METRICS
  std::unique_ptr<prometheus::Exposer> exposer;
  std::shared_ptr<PoolMetrics> metrics;
#endif
  std::string metrics_url;
#ifdef ACCEL_POOLD_DASHBOARD
  std::unique_ptr<PoolHistory> history;
  std::unique_ptr<DashboardServer> dashboard;
#endif
  std::string dashboard_url;
  bool shut_down = false;

  absl::Status SelectDevices();
  absl::Status SetUpCoordinator(const std::string& join_token, const std::string& operator_token);
  absl::Status OpenStateStore(std::chrono::milliseconds heartbeat);
  absl::Status SetUpLink(const std::string& join_token);
  absl::Status SetUpNode();
  absl::Status Serve(const std::shared_ptr<grpc::ServerCredentials>& credentials);
  absl::Status Join();
  void StartElection();
  absl::Status ServeMetrics();
  absl::Status ServeDashboard();
  void Shutdown();
};

absl::Status Poold::Parts::SelectDevices() {
  const PooldOptions& o = options;
  if (o.host_devices < 0) return Invalid("--host_devices must be >= 0");
  if (absl::StatusOr<uint64_t> size = hal::ParseByteSize(o.host_device_memory); !size.ok()) {
    return Invalid(absl::StrCat("--host_device_memory: ", size.status().message()));
  }
  NodeConfig config;
  if (!o.config.empty()) {
    absl::StatusOr<NodeConfig> read = ReadNodeConfig(o.config);
    if (!read.ok()) return read.status();
    config = *std::move(read);
  }
  absl::StatusOr<Labels> flag_labels = ParseLabels(o.labels);
  if (!flag_labels.ok()) return flag_labels.status();
  for (const auto& [key, value] : *flag_labels) config.node_labels[key] = value;
  for (absl::string_view id : absl::StrSplit(o.exclude_devices, ',', absl::SkipEmpty())) {
    config.excluded.emplace(id);
  }
  node_options.labels = config.node_labels;
  node_options.device_labels = config.device_labels;

  registry_options.backend_options["host"] = {{"devices", std::to_string(o.host_devices)},
                                              {"device_memory", o.host_device_memory}};
  // poold serves local devices; it never leases from another pool itself.
  // Named backends are the only ones loaded: no other vendor's runtime
  // starts in this process.
  if (o.backends == "auto" || o.backends == "none") {
    for (const char* name : {"host", "cuda", "rocm", "levelzero"}) {
      registry_options.only.emplace_back(name);
    }
  } else {
    for (absl::string_view name : absl::StrSplit(o.backends, ',', absl::SkipEmpty())) {
      if (name == "remote") return Invalid("--backends: poold serves no remote devices");
      registry_options.only.emplace_back(name);
    }
  }
  absl::StatusOr<std::unique_ptr<hal::Registry>> created = hal::Registry::Create(registry_options);
  if (!created.ok()) return created.status();
  registry = *std::move(created);
  for (const hal::PluginLoadFailure& f : registry->load_failures()) {
    std::fprintf(stderr, "poold: backend not loaded: %s: %s\n", f.library_path.c_str(),
                 f.reason.c_str());
  }
  // The coordinators of a highly available pool serve no devices: the
  // nodes that do follow whichever of them leads (--coordinator A,B,C).
  elected = IsEtcdState(o.state);
  std::string backends = o.backends;
  if (elected && backends != "auto" && backends != "none") {
    return Invalid(
        "a coordinator with --state etcd:// serves no devices itself: serve them from "
        "node-mode poolds (--coordinator with every coordinator's address)");
  }
  if (elected) backends = "none";
  absl::StatusOr<std::vector<Device>> selected =
      accel::pool::SelectDevices(*registry, backends, config.excluded);
  if (!selected.ok()) return selected.status();
  devices = *std::move(selected);
  if (!o.coordinator.empty() && devices.empty()) {
    return Invalid("a node must serve at least one device");
  }
  return absl::OkStatus();
}

absl::Status Poold::Parts::OpenStateStore(std::chrono::milliseconds heartbeat) {
  const PooldOptions& o = options;
  const std::chrono::milliseconds rejoin_grace =
      std::max(heartbeat * 10, std::chrono::milliseconds(5000));
  if (elected) {
#ifdef ACCEL_POOLD_ETCD
    absl::StatusOr<EtcdLocation> location = ParseEtcdUrl(o.state);
    if (!location.ok()) return Invalid(absl::StrCat("--state: ", location.status().message()));
    if (o.election_ttl < 2 || o.election_ttl > 600) {
      return Invalid("--election_ttl must be 2 to 600 seconds");
    }
    EtcdClient::Options etcd_options;
    etcd_options.location = *std::move(location);
    etcd_options.tls = {o.etcd_tls_ca, o.etcd_tls_cert, o.etcd_tls_key};
    etcd_options.user = o.etcd_user;
    absl::StatusOr<std::string> password = ReadSecretFile(o.etcd_password_file, "etcd password", 1);
    if (!password.ok()) return password.status();
    etcd_options.password = *std::move(password);
    absl::StatusOr<std::unique_ptr<EtcdClient>> connected =
        EtcdClient::Connect(std::move(etcd_options));
    if (!connected.ok()) return connected.status();
    etcd = *std::move(connected);
    auto etcd_state = std::make_unique<EtcdStateStore>(*etcd);
    etcd_store = etcd_state.get();
    // While standing by, the state is kept warm for a quick takeover.
    mirror = std::make_unique<EtcdStateMirror>(*etcd);
    etcd_store->UseMirror(mirror.get());
    store = std::move(etcd_state);
    coordinator_options.store = store.get();
    coordinator_options.rejoin_grace = rejoin_grace;
    return absl::OkStatus();
#else
    return absl::FailedPreconditionError(
        "this poold was built without etcd's client (golang-etcd-server-dev)");
#endif
  }
  if (o.state.empty()) return absl::OkStatus();
#ifdef ACCEL_POOLD_STATE
  absl::StatusOr<std::unique_ptr<SqliteStateStore>> opened = SqliteStateStore::Open(o.state);
  if (!opened.ok()) return opened.status();
  store = *std::move(opened);
  coordinator_options.store = store.get();
  coordinator_options.rejoin_grace = rejoin_grace;
  return absl::OkStatus();
#else
  return absl::FailedPreconditionError("this poold was built without SQLite");
#endif
}

absl::Status Poold::Parts::SetUpCoordinator(const std::string& join_token,
                                            const std::string& operator_token) {
  const PooldOptions& o = options;
  const std::chrono::milliseconds heartbeat(o.node_heartbeat_ms);
  coordinator_options.default_ttl_seconds = static_cast<uint32_t>(o.lease_ttl);
  coordinator_options.node_heartbeat = heartbeat;
  coordinator_options.join_token = join_token;
  coordinator_options.require_node_certificates = !tls.ca.empty();
  if (!o.node_tokens.empty()) {
    absl::StatusOr<std::map<std::string, std::string>> node_tokens = ReadNodeTokens(o.node_tokens);
    if (!node_tokens.ok()) return node_tokens.status();
    coordinator_options.node_token_sha256 = *std::move(node_tokens);
  }
  if (!o.audit_log.empty()) {
    absl::StatusOr<std::unique_ptr<AuditLog>> opened = AuditLog::Open(o.audit_log);
    if (!opened.ok()) return opened.status();
    audit = *std::move(opened);
    coordinator_options.audit = audit.get();
  }
  if (!operator_token.empty()) {
    operator_token_sha256 = TenantRegistry::HashToken(operator_token);
    coordinator_options.operator_token_sha256 = operator_token_sha256;
  }
  coordinator_options.default_policy = o.placement;
  if (o.placement != "binpack" && o.placement != "spread") {
    return Invalid("--placement must be binpack or spread");
  }
  if (o.queue_starvation_after_ms < 0) return Invalid("--queue_starvation_after_ms below 0");
  coordinator_options.starvation_after = std::chrono::milliseconds(o.queue_starvation_after_ms);
  if (o.max_leases_per_tenant < 0) return Invalid("--max_leases_per_tenant < 0");
  coordinator_options.max_leases_per_tenant = static_cast<uint32_t>(o.max_leases_per_tenant);
  absl::StatusOr<uint64_t> min_fraction = hal::ParseByteSize(o.min_fraction);
  if (!min_fraction.ok()) {
    return Invalid(absl::StrCat("--min_fraction: ", min_fraction.status().message()));
  }
  coordinator_options.min_fraction_bytes = *min_fraction;
  if (o.etcd_compaction_minutes < 0 || o.etcd_compaction_minutes > 1440) {
    return Invalid("--etcd_compaction_minutes must be 0 (never) to 1440 (a day)");
  }
  if (absl::Status opened = OpenStateStore(heartbeat); !opened.ok()) return opened;
  if (!o.tenants.empty()) {
    absl::StatusOr<std::vector<Tenant>> tenants = ReadTenantConfig(o.tenants);
    if (!tenants.ok()) return tenants.status();
    seed_tenants = *std::move(tenants);
  }
  if (!elected) {
    absl::StatusOr<std::shared_ptr<Coordinator>> started =
        StartCoordinator(coordinator_options, seed_tenants);
    if (!started.ok()) return started.status();
    coordinator = *std::move(started);
    leadership = std::make_unique<Leadership>(
        coordinator, o.state.empty() ? "memory" : absl::StrCat("sqlite ", o.state));
  } else {
#ifdef ACCEL_POOLD_ETCD
    // Where the leader is, while this process is not it.
    leadership = std::make_unique<Leadership>([this] {
      ControlPlaneView view;
      view.role = "electing";
      view.state_store = absl::StrCat("etcd ", options.state.substr(7));
      if (election == nullptr) return view;
      const LeaderElection::View v = election->view();
      view.role = v.role == LeaderElection::Role::kLeader    ? "leader"
                  : v.role == LeaderElection::Role::kStandby ? "standby"
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
  return absl::OkStatus();
}

absl::Status Poold::Parts::SetUpLink(const std::string& join_token) {
  CoordinatorLink::Options link_options;
  link_options.coordinator = options.coordinator;
  link_options.join_token = join_token;
  // TLS to the coordinator with this node's certificate, which names it.
  const TlsFiles link_tls{options.coordinator_tls_ca.empty() ? tls.ca : options.coordinator_tls_ca,
                          tls.cert, tls.key};
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      ClientCredentials(link_tls);
  if (!credentials.ok()) return credentials.status();
  link_options.credentials = *std::move(credentials);
  absl::StatusOr<std::unique_ptr<CoordinatorLink>> made = CoordinatorLink::Create(link_options);
  if (!made.ok()) return Invalid(absl::StrCat("--coordinator: ", made.status().message()));
  link = *std::move(made);
  authority = link.get();
  return absl::OkStatus();
}

absl::Status Poold::Parts::SetUpNode() {
  const PooldOptions& o = options;
  node_options.name = o.node_name.empty() ? HostName() : o.node_name;
  node_options.allow_host_kernels = o.allow_host_kernels;
  node_options.worker_path = o.session_worker;
  node_options.backend_options = registry_options.backend_options;
  if (o.max_kernel_seconds < 0 || o.max_shared_kernel_seconds < 0) {
    return Invalid("--max_kernel_seconds and --max_shared_kernel_seconds must be >= 0");
  }
  node_options.max_kernel_time = Seconds(o.max_kernel_seconds);
  node_options.max_shared_kernel_time = Seconds(o.max_shared_kernel_seconds);
  if (o.max_sessions < 1) return Invalid("--max_sessions must be at least 1");
  node_options.max_sessions = static_cast<size_t>(o.max_sessions);
  agent = std::make_unique<NodeAgent>(node_options, devices, *authority);
  if (leadership != nullptr) {
    CoordinatorService::Access access;
    for (absl::string_view name : absl::StrSplit(o.operator_cn, ',', absl::SkipEmpty())) {
      access.operator_names.insert(std::string(name));
    }
    if (!access.operator_names.empty() && tls.ca.empty()) {
      return Invalid("--operator_cn needs --tls_client_ca, to verify the certificates it names");
    }
    coordinator_service = std::make_unique<CoordinatorService>(
        *leadership, std::chrono::milliseconds(o.node_heartbeat_ms), access);
  }
  node_service = std::make_unique<NodeService>(*agent);
  if (o.bulk_channel) {
    if (o.bulk_port < 0 || o.bulk_port > 65535) {
      return Invalid(absl::StrCat("--bulk_port ", o.bulk_port, " is not a port"));
    }
    // Under TLS the bulk channel is TLS with the same files.
    std::unique_ptr<BulkTlsServer> bulk_tls;
    if (!tls.empty()) {
      absl::StatusOr<std::unique_ptr<BulkTlsServer>> made = BulkTlsServer::Create(tls);
      if (!made.ok()) return made.status();
      bulk_tls = *std::move(made);
    }
    NodeAgent* node = agent.get();
    absl::StatusOr<std::unique_ptr<BulkListener>> started = BulkListener::Start(
        HostOfAddress(o.listen), static_cast<uint16_t>(o.bulk_port), std::move(bulk_tls),
        [node](const std::string& key, std::unique_ptr<BulkSocket>& socket) {
          return node->AttachBulk(key, socket);
        });
    if (!started.ok()) return started.status();
    bulk_listener = *std::move(started);
    agent->OfferBulkChannel(bulk_listener->port());
  }
  return absl::OkStatus();
}

absl::Status Poold::Parts::Serve(const std::shared_ptr<grpc::ServerCredentials>& credentials) {
  const PooldOptions& o = options;
  std::string host = o.listen.substr(0, o.listen.rfind(':'));
  // A wildcard listen address is no address to give clients: a node must be
  // told what they reach it at; a standalone pool offers its host name.
  const bool wildcard = host == "0.0.0.0" || host == "[::]" || host == "::" || host.empty();
  if (wildcard && !o.coordinator.empty() && o.advertise_address.empty()) {
    return Invalid(absl::StrCat("--listen ", o.listen,
                                " is a wildcard: say which address clients reach this node at "
                                "with --advertise_address HOST:PORT"));
  }
  if (wildcard && o.advertise_address.empty()) {
    host = HostName();
    std::fprintf(stderr,
                 "poold: listening on a wildcard address; clients are sent to %s (set "
                 "--advertise_address if they reach this host by another name)\n",
                 host.c_str());
  }
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(o.listen, credentials, &port);
  // Operator calls from this host: the admin socket, a Unix socket that
  // only root, poold's user and the admin group can connect to, whose
  // connections poold hands to the same server (admin_socket.h).
  const bool default_admin_socket = o.admin_socket.empty();
  if (coordinator_service != nullptr && o.admin_socket != "none") {
    gid_t admin_group = static_cast<gid_t>(-1);
    if (!o.admin_group.empty()) {
      const group* g = getgrnam(o.admin_group.c_str());
      if (g == nullptr) return Invalid("no group named " + o.admin_group);
      admin_group = g->gr_gid;
    }
    absl::StatusOr<std::unique_ptr<AdminSocket>> listening =
        AdminSocket::Listen(o.admin_socket, admin_group);
    if (!listening.ok() && !default_admin_socket) return listening.status();
    if (listening.ok()) {
      admin_socket = *std::move(listening);
      coordinator_service->set_admin_socket(true);
    } else {
      std::fprintf(stderr, "poold: no admin socket: %s\n", listening.status().ToString().c_str());
    }
  }
  if (tls.empty() && !IsLoopbackHost(host)) {
    std::fprintf(stderr,
                 "poold: WARNING: serving plaintext on %s: tokens and tenants' data cross the "
                 "network in clear; use --tls_cert and --tls_key beyond loopback\n",
                 o.listen.c_str());
  }
  if (coordinator_service != nullptr) builder.RegisterService(coordinator_service.get());
  builder.RegisterService(node_service.get());
  ApplyBulkTransferSettings(builder);
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
                             static_cast<int>(o.handshake_seconds * 1000));
  builder.AddChannelArgument(GRPC_ARG_MAX_METADATA_SIZE, kMaxMetadataBytes);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, 128);
  quota = std::make_unique<grpc::ResourceQuota>("poold");
  quota->SetMaxThreads(2 * o.max_sessions + 128);
  builder.SetResourceQuota(*quota);
  server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", o.listen));
  }
  address = o.advertise_address.empty() ? absl::StrCat(host, ":", port) : o.advertise_address;
  if (admin_socket != nullptr) {
    admin_socket->Serve(server.get());
    absl::Status published = admin_socket->Publish(port);
    if (!published.ok() && !default_admin_socket) return published;
    if (published.ok()) {
      admin_socket_path = admin_socket->path();
    } else {
      std::fprintf(stderr, "poold: no admin socket: %s\n", published.ToString().c_str());
      admin_socket.reset();
      coordinator_service->set_admin_socket(false);
    }
  }
  return absl::OkStatus();
}

absl::Status Poold::Parts::Join() {
  if (link == nullptr) {
    if (coordinator != nullptr) {
      coordinator->AddNode(node_options.name, address, node_options.labels, agent->DeviceInfos(),
                           agent.get());
    }
    return absl::OkStatus();
  }
  CoordinatorLink::NodeView view;
  view.listener = agent.get();
  const std::string instance = RandomHex(8);
  view.hello = [this, instance] {
    v1::NodeHello hello;
    hello.set_name(node_options.name);
    hello.set_address(address);
    hello.set_instance(instance);
    for (const auto& [key, value] : node_options.labels) (*hello.mutable_labels())[key] = value;
    for (v1::DeviceInfo& d : agent->DeviceInfos()) *hello.add_devices() = std::move(d);
    for (const std::string& id : agent->OpenLeases()) hello.add_open_leases(id);
    return hello;
  };
  absl::Status joined = link->Start(std::move(view), std::chrono::seconds(5));
  if (!joined.ok() && joined.code() != absl::StatusCode::kUnavailable) {
    return absl::Status(joined.code(), absl::StrCat("coordinator ", options.coordinator,
                                                    " refused this node: ", joined.message()));
  }
  // Unreachable for now: the link keeps trying.
  if (!joined.ok()) std::fprintf(stderr, "poold: %s\n", joined.ToString().c_str());
  return absl::OkStatus();
}

void Poold::Parts::StartElection() {
#ifdef ACCEL_POOLD_ETCD
  if (etcd == nullptr) return;
  // Each term as leader gets a fresh coordinator, restored from etcd,
  // whose writes commit only while the term lasts.
  LeaderElection::Callbacks terms;
  terms.elected = [this](const LeaderElection::Term& term) {
    etcd_store->Fence(term.key, term.revision, term.elected_at, [this] {
      election->Lost(absl::FailedPreconditionError(
          "a write found this coordinator's election key gone: another leads"));
    });
    absl::StatusOr<std::shared_ptr<Coordinator>> started =
        StartCoordinator(coordinator_options, seed_tenants);
    if (!started.ok()) {
      election->Lost(started.status());
      return;
    }
    leadership->Install(*std::move(started));
  };
  terms.deposed = [this](const absl::Status&) {
    etcd_store->Unfence();
    if (std::shared_ptr<Coordinator> ended = leadership->Remove()) ended->Resign();
  };
  LeaderElection::Options election_options;
  election_options.ttl_seconds = options.election_ttl;
  election_options.address = address;
  election = std::make_unique<LeaderElection>(*etcd, election_options, terms);
  election->Start();
  if (options.etcd_compaction_minutes > 0) {
    EtcdCompactor::Options compaction;
    compaction.interval = std::chrono::minutes(options.etcd_compaction_minutes);
    compaction.leading = [this] { return election->view().role == LeaderElection::Role::kLeader; };
    compactor = std::make_unique<EtcdCompactor>(*etcd, std::move(compaction));
  }
#endif
}

absl::Status Poold::Parts::ServeMetrics() {
  const std::string& listen = options.metrics_listen;
  if (listen.empty()) return absl::OkStatus();
#ifdef ACCEL_POOLD_METRICS
  absl::StatusOr<std::string> password =
      ReadSecretFile(options.metrics_password_file, "a metrics password");
  if (!password.ok()) return password.status();
  try {  // civetweb reports a port it cannot bind by throwing
    exposer = std::make_unique<prometheus::Exposer>(listen, 1);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("cannot serve metrics on ", listen, ": ", e.what()));
  }
  if (!password->empty()) {
    exposer->RegisterAuth(
        [password = *password](const std::string&, const std::string& given) {
          return SecretsEqual(given, password);
        },
        "accelpool metrics");
  } else if (!IsLoopbackHost(HostOfAddress(listen))) {
    std::fprintf(stderr,
                 "poold: WARNING: metrics on %s without --metrics_password_file: anyone who "
                 "reaches it sees every tenant's use\n",
                 listen.c_str());
  }
  metrics = std::make_shared<PoolMetrics>(*leadership);
  exposer->RegisterCollectable(metrics);
  metrics_url = Url(listen, exposer->GetListeningPorts().at(0), "/metrics");
  return absl::OkStatus();
#else
  return absl::FailedPreconditionError(
      "this poold was built without prometheus-cpp: no --metrics_listen");
#endif
}

absl::Status Poold::Parts::ServeDashboard() {
  const std::string& listen = options.http_listen;
  if (listen.empty()) return absl::OkStatus();
#ifdef ACCEL_POOLD_DASHBOARD
  if (operator_token_sha256.empty()) {
    return Invalid(
        "--http_listen needs --operator_token_file: the dashboard shows every tenant's "
        "leases, so it asks for the operator's token");
  }
  if (options.dashboard_sample_seconds < 1 || options.dashboard_sample_seconds > 3600) {
    return Invalid("--dashboard_sample_seconds must be 1 to 3600");
  }
  history = std::make_unique<PoolHistory>(*leadership,
                                          std::chrono::seconds(options.dashboard_sample_seconds));
  DashboardServer::Options dashboard_options;
  dashboard_options.listen = listen;
  dashboard_options.operator_token_sha256 = operator_token_sha256;
  absl::StatusOr<std::unique_ptr<DashboardServer>> started =
      DashboardServer::Start(dashboard_options, *leadership, *history);
  if (!started.ok()) return started.status();
  dashboard = *std::move(started);
  if (!IsLoopbackHost(HostOfAddress(listen))) {
    std::fprintf(stderr,
                 "poold: WARNING: the dashboard on %s is plain HTTP: the operator's token "
                 "crosses the network in clear; serve it on loopback behind a TLS proxy\n",
                 listen.c_str());
  }
  dashboard_url = Url(listen, dashboard->port(), "/");
  return absl::OkStatus();
#else
  return absl::FailedPreconditionError(
      "this poold was built without civetweb (libcivetweb-dev): no --http_listen");
#endif
}

void Poold::Parts::Shutdown() {
  if (shut_down) return;
  shut_down = true;
#ifdef ACCEL_POOLD_DASHBOARD
  dashboard.reset();
  history.reset();
#endif
#ifdef ACCEL_POOLD_METRICS
  exposer.reset();
#endif
  // Ends every session (their handlers free what they hold) within 2 s.
  if (agent != nullptr) {
    agent->EndAll(absl::UnavailableError(absl::StrCat("node ", node_options.name, " shut down")));
  }
  admin_socket.reset();  // hands the server no more connections
  if (server != nullptr) {
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }
  // Before the node agent they notify is destroyed.
  if (coordinator != nullptr) coordinator->Stop();
#ifdef ACCEL_POOLD_ETCD
  // What the last grants and releases queued is written while this one
  // still leads, so that its successor restores no released lease. Then
  // it resigns: a standby leads at once, not at the end of this one's lease.
  if (etcd_store != nullptr) etcd_store->Flush();
  compactor.reset();  // it asks the election who leads
  if (election != nullptr) election->Stop();
  // Queued writes go out, and the watch ends, while etcd's client is here.
  store.reset();
  mirror.reset();
#endif
  if (link != nullptr) link->Stop();
}

absl::StatusOr<std::unique_ptr<Poold>> Poold::Start(PooldOptions options) {
  auto parts = std::make_unique<Parts>();
  Parts& p = *parts;
  p.options = std::move(options);
  const PooldOptions& o = p.options;
  if (o.lease_ttl <= 0) return Invalid("--lease_ttl must be positive");
  if (o.node_heartbeat_ms < 50) return Invalid("--node_heartbeat_ms below 50");
  if (o.handshake_seconds <= 0) return Invalid("--handshake_seconds must be positive");
  for (const auto& [flag, listen] :
       {std::pair<const char*, const std::string&>{"--metrics_listen", o.metrics_listen},
        {"--http_listen", o.http_listen}}) {
    if (!listen.empty() && listen.find(':') == std::string::npos) {
      return Invalid(absl::StrCat(flag, " ", listen, " is not HOST:PORT"));
    }
  }
  const bool node_mode = !o.coordinator.empty();
  // What only a coordinator does, checked before a node starts joining.
  for (const auto& [flag, value] :
       {std::pair<const char*, const std::string&>{"--audit_log is kept", o.audit_log},
        {"--metrics_listen is served", o.metrics_listen},
        {"--http_listen is served", o.http_listen}}) {
    if (node_mode && !value.empty()) {
      return Invalid(absl::StrCat(flag, " by the coordinator; this poold is a node"));
    }
  }
  if (absl::Status s = p.SelectDevices(); !s.ok()) return s;
  absl::StatusOr<std::string> join_token = ReadSecretFile(o.join_token_file, "a join token");
  if (!join_token.ok()) return join_token.status();
  absl::StatusOr<std::string> operator_token =
      ReadSecretFile(o.operator_token_file, "an operator token");
  if (!operator_token.ok()) return operator_token.status();
  p.tls = {o.tls_client_ca, o.tls_cert, o.tls_key};
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials = ServerCredentials(p.tls);
  if (!credentials.ok()) return credentials.status();

  // Standalone: the coordinator is here and admits this node's sessions
  // itself. Node mode: the link to the pool's coordinator does.
  absl::Status s =
      node_mode ? p.SetUpLink(*join_token) : p.SetUpCoordinator(*join_token, *operator_token);
  if (s.ok()) s = p.SetUpNode();
  if (s.ok()) s = p.Serve(*credentials);
  if (s.ok()) s = p.Join();
  if (s.ok()) p.StartElection();
  if (s.ok()) s = p.ServeMetrics();
  if (s.ok()) s = p.ServeDashboard();
  if (!s.ok()) {
    p.Shutdown();
    return s;
  }
  return std::unique_ptr<Poold>(new Poold(std::move(parts)));
}

Poold::Poold(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}
Poold::~Poold() { Shutdown(); }
void Poold::Shutdown() { parts_->Shutdown(); }

const std::string& Poold::address() const { return parts_->address; }
const std::string& Poold::admin_socket_path() const { return parts_->admin_socket_path; }
const std::string& Poold::metrics_url() const { return parts_->metrics_url; }
const std::string& Poold::dashboard_url() const { return parts_->dashboard_url; }
const std::string& Poold::node_name() const { return parts_->node_options.name; }
const std::vector<hal::Device>& Poold::devices() const { return parts_->devices; }
const std::string& Poold::joined_coordinator() const { return parts_->options.coordinator; }
bool Poold::elected() const { return parts_->elected; }

absl::Status Poold::CheckTlsFiles() const {
  if (parts_->tls.empty()) return absl::OkStatus();
  return CheckServerFiles(parts_->tls);
}

}  // namespace accel::pool
