#include "pool/coordinator/coordinator.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "pool/common/client_text.h"
#include "pool/common/random_token.h"

namespace accel::pool {

Coordinator::Coordinator(Options options) : options_(options), reaper_([this] { ReapLoop(); }) {}

Coordinator::~Coordinator() { Stop(); }

namespace {
// Recently ended leases whose reason a late renewal can still learn.
constexpr size_t kEndedLeasesKept = 4096;
}  // namespace

void Coordinator::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;  // queued requests give up
    // Listeners are about to go: no later release may reach them either.
    for (auto& [name, node] : nodes_) node.listener.reset();
  }
  if (reaper_.joinable()) reaper_.join();
}

void Coordinator::Resign() {
  std::vector<std::shared_ptr<LeaseListener>> links;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    for (auto& [name, node] : nodes_) {
      if (node.remote && node.listener != nullptr) links.push_back(node.listener);
      node.listener.reset();
    }
  }
  for (const std::shared_ptr<LeaseListener>& link : links) link->OnNodeLost();
  if (reaper_.joinable()) reaper_.join();
}

int64_t Coordinator::NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void Coordinator::AddNode(const std::string& name, const std::string& address,
                          const std::map<std::string, std::string>& labels,
                          std::vector<v1::DeviceInfo> devices, LeaseListener* listener) {
  std::vector<Notice> notices;
  {
    absl::MutexLock lock(&mu_);
    Node& node = AddNodeLocked(name, address, labels, std::move(devices));
    // Not owned: the caller keeps it alive past Stop().
    node.listener = std::shared_ptr<LeaseListener>(std::shared_ptr<void>(), listener);
    node.remote = false;
    // This process's own node has just started: no session survived.
    ReconcileRestoredLocked(node, {}, notices);
    ServeQueueLocked();
  }
  Deliver(notices);
}

void Coordinator::ReconcileRestoredLocked(Node& node, const std::vector<std::string>& open_leases,
                                          std::vector<Notice>& notices) {
  if (!node.rejoin_by) return;
  node.rejoin_by.reset();
  const std::set<std::string> open(open_leases.begin(), open_leases.end());
  std::vector<std::string> gone;
  for (auto& [id, lease] : leases_) {
    if (!OnNode(lease.info, node.info.name())) continue;
    if (open.count(id) == 0) {
      gone.push_back(id);
    } else {
      // Its session lives on: a gang's lease must not end when its session
      // on another node closes first.
      lease.open_sessions.insert(node.info.name());
      lease.info.set_session_open(true);
    }
  }
  const absl::Status why = absl::UnavailableError(absl::StrCat(
      "node ", node.info.name(), " no longer has this lease's session after the restart"));
  for (const std::string& id : gone) EndLocked(id, why, "node_lost", notices);
}

absl::Status Coordinator::Restore() {
  if (options_.store == nullptr) return absl::OkStatus();
  absl::StatusOr<PoolState> state = options_.store->Load();
  if (!state.ok()) return state.status();
  absl::MutexLock lock(&mu_);
  for (const Tenant& tenant : state->tenants) {
    if (absl::Status s = tenants_.Define(tenant); !s.ok()) return s;
  }
  // Nodes come back as they rejoin; until then they are known only by what
  // their drains and leases name.
  auto placeholder = [&](const std::string& name) -> Node& {
    Node& node = nodes_[name];
    if (node.info.name().empty()) {
      node.info.set_name(name);
      node.info.set_state("lost");
      node.remote = true;
      SetFreeLocked(node, 0);
    }
    return node;
  };
  for (const std::string& name : state->drained_nodes) placeholder(name).drained = true;
  const auto now = std::chrono::steady_clock::now();
  for (StoredLease& stored : state->leases) {
    for (const v1::LeasedDevice& d : stored.info.devices()) {
      Node& node = placeholder(d.device().node());
      node.rejoin_by = now + options_.rejoin_grace;
      node.info.set_address(d.node_address());
      const bool known =
          std::any_of(node.devices.begin(), node.devices.end(),
                      [&](const v1::DeviceInfo& k) { return k.id() == d.device().id(); });
      if (!known) node.devices.push_back(d.device());
      node.info.set_devices(static_cast<uint32_t>(node.devices.size()));
    }
    for (const std::string& name : NodesOf(stored.info)) {
      nodes_[name].info.set_leases(nodes_[name].info.leases() + 1);
    }
    LeaseRecord& record = leases_[stored.info.lease_id()];
    record.info = std::move(stored.info);
    record.info.set_session_open(false);
    record.info.set_memory_in_use(0);
    // A fresh TTL: holders could not renew while the coordinator was down.
    record.expires = now + std::chrono::seconds(record.info.ttl_seconds());
    record.info.set_expires_unix_ms(NowUnixMs() + int64_t{record.info.ttl_seconds()} * 1000);
    record.token_sha256 = std::move(stored.token_sha256);
    ChargeLeaseLocked(record.info);
  }
  for (auto& [name, node] : nodes_) RecountFreeLocked(node);
  return absl::OkStatus();
}

Coordinator::Node& Coordinator::AddNodeLocked(const std::string& name, const std::string& address,
                                              const std::map<std::string, std::string>& labels,
                                              std::vector<v1::DeviceInfo> devices) {
  Node& node = nodes_[name];
  node.info.set_name(name);
  node.info.set_address(address);
  node.info.set_state(node.drained ? "draining" : "ready");
  node.info.mutable_labels()->clear();
  for (const auto& [key, value] : labels) (*node.info.mutable_labels())[key] = value;
  node.info.set_devices(static_cast<uint32_t>(devices.size()));
  node.info.set_last_heartbeat_unix_ms(NowUnixMs());
  for (v1::DeviceInfo& d : devices) {
    d.set_node(name);
    d.set_id(absl::StrCat(name, "/", d.backend(), ":", d.index()));
  }
  node.devices = std::move(devices);
  RecountFreeLocked(node);
  return node;
}

void Coordinator::RecountFreeLocked(Node& node) {
  uint32_t free = 0;
  for (const v1::DeviceInfo& d : node.devices) free += device_use_.count(d.id()) == 0;
  SetFreeLocked(node, free);
}

void Coordinator::SetFreeLocked(Node& node, uint32_t free) {
  nodes_by_free_.erase({node.free, node.info.name()});
  node.free = free;
  nodes_by_free_.insert({node.free, node.info.name()});
}

absl::StatusOr<std::string> Coordinator::NodeCredential(const v1::NodeHello& hello,
                                                        const std::string& certified_name) const {
  // Where a node calls from proves nothing: it shows a certificate the
  // pool's CA signed, its own node token, or the pool's shared join token.
  if (!certified_name.empty()) {
    if (certified_name != hello.name()) {
      return absl::PermissionDeniedError(absl::StrCat("this node's certificate names node '",
                                                      certified_name, "': it cannot register as '",
                                                      ClientText(hello.name()), "'"));
    }
    return absl::StrCat("certificate ", certified_name);
  }
  if (options_.require_node_certificates) {
    return absl::UnauthenticatedError(
        "this pool admits nodes by certificate: join with --tls_cert and --tls_key "
        "naming the node, signed by the pool's CA");
  }
  if (auto own = options_.node_token_sha256.find(hello.name());
      own != options_.node_token_sha256.end()) {
    if (!SecretsEqual(TenantRegistry::HashToken(hello.join_token()), own->second)) {
      return absl::PermissionDeniedError(
          absl::StrCat("wrong node token for node ", ClientText(hello.name())));
    }
    return absl::StrCat("the node token of ", hello.name());
  }
  if (options_.join_token.empty()) {
    return absl::PermissionDeniedError(
        "this pool admits nodes by join token (poold --join_token_file on both sides), node "
        "token (--node_tokens) or certificate (--tls_client_ca); it has none for this node");
  }
  if (!SecretsEqual(options_.join_token, hello.join_token())) {
    return absl::PermissionDeniedError("wrong join token for this pool");
  }
  return std::string("the join token");
}

absl::StatusOr<Coordinator::Registration> Coordinator::RegisterNode(
    const v1::NodeHello& hello, std::shared_ptr<LeaseListener> listener,
    const std::string& certified_name) {
  absl::StatusOr<std::string> credential_or = NodeCredential(hello, certified_name);
  if (!credential_or.ok()) return credential_or.status();
  const std::string credential = *std::move(credential_or);
  if (hello.name().empty() || hello.name().size() > 128 ||
      hello.name().find_first_of("/ \t\n") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "node name '", ClientText(hello.name()), "' must be 1-128 characters without / or spaces"));
  }
  if (hello.address().empty() || hello.address().size() > 256) {
    return absl::InvalidArgumentError("a node address is 1-256 characters");
  }
  if (hello.labels_size() > 64) return absl::InvalidArgumentError("more than 64 node labels");
  for (const auto& [key, value] : hello.labels()) {
    if (key.size() > 256 || value.size() > 256) {
      return absl::InvalidArgumentError("a node label longer than 256 characters");
    }
  }
  if (hello.devices_size() > 4096) return absl::InvalidArgumentError("more than 4096 devices");

  std::map<std::string, std::string> labels(hello.labels().begin(), hello.labels().end());
  std::vector<v1::DeviceInfo> devices(hello.devices().begin(), hello.devices().end());
  std::vector<Notice> notices;
  absl::StatusOr<Registration> registered = [&]() -> absl::StatusOr<Registration> {
    absl::MutexLock lock(&mu_);
    bool rejoined = false;
    if (auto old = nodes_.find(hello.name()); old != nodes_.end()) {
      Node& existing = old->second;
      rejoined = true;
      if (!existing.remote) {
        return absl::FailedPreconditionError(
            absl::StrCat("node name ", hello.name(),
                         " belongs to the coordinator's own node; pick another "
                         "--node_name"));
      }
      if (existing.info.state() != "lost" && !existing.credential.empty() &&
          existing.credential != credential) {
        // A live node is replaced only by one with its own credential, even
        // when the hello repeats its instance.
        return absl::PermissionDeniedError(absl::StrCat("node ", hello.name(), " is live under ",
                                                        existing.credential, "; a hello with ",
                                                        credential, " cannot replace it"));
      }
      if (existing.instance != hello.instance()) {
        const auto silence = options_.node_heartbeat * options_.node_lost_after;
        if (existing.info.state() != "lost" &&
            std::chrono::steady_clock::now() - existing.last_heartbeat < silence) {
          // Either two live processes share a name, or the old one died a
          // moment ago: refuse until it is lost (the node retries).
          return absl::AlreadyExistsError(absl::StrCat("another live node is registered as ",
                                                       hello.name(), "; retry once it is lost"));
        }
        // A new process under the old name: the old one's sessions are gone.
        LoseNodeLocked(existing, "it restarted", notices);
      }
    }
    Node& node = AddNodeLocked(hello.name(), hello.address(), labels, std::move(devices));
    node.listener = std::move(listener);
    node.instance = hello.instance();
    node.credential = credential;
    node.remote = true;
    node.generation = next_generation_++;
    node.secret = RandomHex(16);
    node.last_heartbeat = std::chrono::steady_clock::now();
    ReconcileRestoredLocked(
        node, std::vector<std::string>(hello.open_leases().begin(), hello.open_leases().end()),
        notices);
    Audit(rejoined ? "node_rejoined" : "node_joined",
          {{"node", hello.name()},
           {"address", hello.address()},
           {"devices", absl::StrCat(hello.devices_size())},
           {"credential", credential}});
    Registration out;
    out.generation = node.generation;
    out.node_secret = node.secret;
    for (const std::string& id : hello.open_leases()) {
      auto it = leases_.find(id);
      if (it == leases_.end() || !OnNode(it->second.info, hello.name())) {
        out.stale_leases.push_back(id);
      }
    }
    // Ended leases whose session this node no longer runs are torn down.
    const std::set<std::string> running(hello.open_leases().begin(), hello.open_leases().end());
    std::vector<std::string> closed;
    for (const auto& [id, teardown] : teardowns_) {
      if (teardown.nodes.count(hello.name()) != 0 && running.count(id) == 0) closed.push_back(id);
    }
    for (const std::string& id : closed) TeardownDoneLocked(id, hello.name());
    ServeQueueLocked();
    return out;
  }();
  Deliver(notices);  // to an old registration's listener, if any
  return registered;
}

void Coordinator::Deliver(std::vector<Notice>& notices) {
  for (Notice& n : notices) {
    if (n.listener == nullptr) continue;
    if (n.lease_id.empty()) {
      n.listener->OnNodeLost();
    } else {
      n.listener->OnLeaseEnded(n.lease_id, n.why);
    }
  }
  notices.clear();
}

void Coordinator::NodeHeartbeat(const std::string& name, uint64_t generation) {
  absl::MutexLock lock(&mu_);
  auto it = nodes_.find(name);
  if (it == nodes_.end() || it->second.generation != generation) return;
  it->second.last_heartbeat = std::chrono::steady_clock::now();
  it->second.info.set_last_heartbeat_unix_ms(NowUnixMs());
}

void Coordinator::NodeLinkLost(const std::string& name, uint64_t generation,
                               const std::string& why) {
  std::vector<Notice> notices;
  {
    absl::MutexLock lock(&mu_);
    auto it = nodes_.find(name);
    // A newer registration of the same node is not lost with its old link;
    // nor is a node whose link this coordinator closed as it resigned.
    if (stopping_ || it == nodes_.end() || it->second.generation != generation) return;
    LoseNodeLocked(it->second, why, notices);
    // A gang's devices on other nodes are free again.
    ServeQueueLocked();
  }
  Deliver(notices);
}

void Coordinator::LoseNodeLocked(Node& node, const std::string& why, std::vector<Notice>& notices) {
  if (node.info.state() == "lost") return;
  node.info.set_state("lost");
  Audit("node_lost", {{"node", node.info.name()}, {"why", why}});
  const absl::Status status =
      absl::UnavailableError(absl::StrCat("node ", node.info.name(), " lost: ", why));
  std::vector<std::string> ids;
  for (const auto& [id, lease] : leases_) {
    if (OnNode(lease.info, node.info.name())) ids.push_back(id);
  }
  // The node hears of each ended lease (if its link still carries anything)
  // so it ends those sessions, and then that it is lost, so a link that is
  // still up closes and the node registers anew.
  for (const std::string& id : ids) EndLocked(id, status, "node_lost", notices);
  notices.push_back({node.listener, "", status});
  node.listener.reset();
}

absl::Status Coordinator::CheckNodeSecret(const std::string& name, const std::string& secret) {
  absl::MutexLock lock(&mu_);
  auto it = nodes_.find(name);
  if (it == nodes_.end() || !it->second.remote || it->second.info.state() == "lost" ||
      !SecretsEqual(it->second.secret, secret)) {
    return absl::PermissionDeniedError(
        absl::StrCat("node ", name, " is not registered with that secret"));
  }
  return absl::OkStatus();
}

Coordinator::Counts Coordinator::counts() {
  absl::MutexLock lock(&mu_);
  Counts c;
  c.active_leases = leases_.size();
  c.queued_leases = queue_.size();
  c.traffic = traffic_;
  c.queue_waits = queue_waits_;
  c.ended = ended_by_reason_;
  absl::MutexLock counted(&counts_mu_);
  c.granted = granted_;
  c.refused = refused_by_code_;
  return c;
}

void Coordinator::Audit(absl::string_view event, const AuditLog::Fields& fields) {
  if (options_.audit != nullptr) options_.audit->Record(event, fields);
}

absl::StatusOr<Caller> Coordinator::Authenticate(absl::string_view bearer_token, bool admin) {
  absl::MutexLock lock(&mu_);
  if (!bearer_token.empty()) {
    if (!options_.operator_token_sha256.empty() &&
        SecretsEqual(TenantRegistry::HashToken(bearer_token), options_.operator_token_sha256)) {
      return Caller{"", true, "the operator token"};
    }
    if (std::optional<std::string> tenant = tenants_.FindByToken(bearer_token)) {
      return Caller{*tenant, false, absl::StrCat("tenant ", *tenant)};
    }
    return absl::UnauthenticatedError("the pool knows no tenant or operator with that token");
  }
  if (admin) return Caller{"", true, "the admin socket"};
  if (!tenants_.empty()) {
    return absl::UnauthenticatedError(
        "this pool serves tenants only: present a tenant's token (ACCEL_POOL_TOKEN)");
  }
  return Caller{};
}

bool Coordinator::CanSee(const Caller& caller, const std::string& tenant) const {
  return caller.is_operator || caller.tenant == tenant;
}

absl::StatusOr<int64_t> Coordinator::Renew(const std::string& lease_id, const std::string& token,
                                           const Caller& caller) {
  absl::MutexLock lock(&mu_);
  auto it = leases_.find(lease_id);
  const std::string token_sha256 = TenantRegistry::HashToken(token);
  if (it == leases_.end() || !SecretsEqual(it->second.token_sha256, token_sha256) ||
      it->second.info.tenant() != caller.tenant) {
    // Same answer for unknown and wrong token: no probing for lease ids.
    if (auto ended = ended_.find(lease_id);
        ended != ended_.end() && SecretsEqual(ended->second.token_sha256, token_sha256)) {
      return absl::NotFoundError(
          absl::StrCat("lease ", lease_id, " ended: ", ended->second.why.message()));
    }
    return absl::NotFoundError(
        absl::StrCat("lease ", lease_id, " not found (expired or released)"));
  }
  LeaseRecord& r = it->second;
  r.expires = std::chrono::steady_clock::now() + std::chrono::seconds(r.info.ttl_seconds());
  r.info.set_expires_unix_ms(NowUnixMs() + int64_t{r.info.ttl_seconds()} * 1000);
  return r.info.expires_unix_ms();
}

std::set<std::string> Coordinator::NodesOf(const v1::LeaseInfo& lease) {
  std::set<std::string> nodes;
  for (const v1::LeasedDevice& d : lease.devices()) nodes.insert(d.device().node());
  return nodes;
}

bool Coordinator::OnNode(const v1::LeaseInfo& lease, const std::string& node) {
  return std::any_of(lease.devices().begin(), lease.devices().end(),
                     [&](const v1::LeasedDevice& d) { return d.device().node() == node; });
}

void Coordinator::EndLocked(const std::string& lease_id, const absl::Status& why,
                            const char* reason, std::vector<Notice>& notices) {
  auto it = leases_.find(lease_id);
  if (it == leases_.end()) return;
  uint64_t memory = 0;
  for (const v1::LeasedDevice& d : it->second.info.devices()) memory += d.memory_quota();
  // Nodes that still run the session kill its worker now; its devices go
  // to the next lease once they say the worker is gone. A lost node cannot
  // say anything, and is not waited for.
  Teardown teardown{it->second.info, {}, std::chrono::steady_clock::now() + kTeardownLimit};
  for (const std::string& name : it->second.open_sessions) {
    auto node = nodes_.find(name);
    if (node != nodes_.end() && node->second.info.state() != "lost") teardown.nodes.insert(name);
  }
  if (teardown.nodes.empty()) {
    ReleaseDeviceUseLocked(it->second.info);
  } else {
    teardowns_[lease_id] = std::move(teardown);
  }
  tenants_.Charge(it->second.info.tenant(), -it->second.info.devices_size(),
                  -static_cast<int64_t>(memory), -1, 0);
  for (const std::string& name : NodesOf(it->second.info)) {
    auto node = nodes_.find(name);
    if (node == nodes_.end()) continue;
    node->second.info.set_leases(node->second.info.leases() - 1);
    RecountFreeLocked(node->second);  // it may have re-registered other devices
    notices.push_back({node->second.listener, lease_id, why});
  }
  ++ended_by_reason_[reason];
  Audit("lease_ended", {{"lease", lease_id},
                        {"tenant", it->second.info.tenant()},
                        {"holder", it->second.info.holder()},
                        {"reason", reason},
                        {"why", std::string(why.message())}});
  // Every node of the lease may still send its session's last report.
  for (const std::string& name : NodesOf(it->second.info)) it->second.usage_by_node[name];
  ended_[lease_id] = {it->second.token_sha256, why, it->second.info.tenant(),
                      std::move(it->second.usage_by_node)};
  if (options_.store != nullptr) options_.store->QueueDeleteLease(lease_id);
  ended_order_.push_back(lease_id);
  if (ended_order_.size() > kEndedLeasesKept) {
    ended_.erase(ended_order_.front());
    ended_order_.pop_front();
  }
  leases_.erase(it);
}

void Coordinator::ReleaseDeviceUseLocked(const v1::LeaseInfo& lease) {
  for (const v1::LeasedDevice& d : lease.devices()) {
    auto use = device_use_.find(d.device().id());
    if (use == device_use_.end()) continue;
    use->second.leased_memory -= std::min(use->second.leased_memory, d.memory_quota());
    use->second.exclusive = false;
    if (auto t = use->second.tenants.find(lease.tenant());
        t != use->second.tenants.end() && --t->second == 0) {
      use->second.tenants.erase(t);
    }
    if (lease.device_isolation() && use->second.isolated > 0) --use->second.isolated;
    if (--use->second.leases == 0) device_use_.erase(use);
  }
}

bool Coordinator::TeardownDoneLocked(const std::string& lease_id, const std::string& node) {
  auto it = teardowns_.find(lease_id);
  if (it == teardowns_.end()) return false;
  it->second.nodes.erase(node);
  if (!it->second.nodes.empty()) return false;
  ReleaseDeviceUseLocked(it->second.info);
  for (const std::string& name : NodesOf(it->second.info)) {
    if (auto n = nodes_.find(name); n != nodes_.end()) RecountFreeLocked(n->second);
  }
  teardowns_.erase(it);
  return true;
}

absl::Status Coordinator::Release(const std::string& lease_id, const std::string& token,
                                  const Caller& caller) {
  const absl::Status why = absl::CancelledError("lease released");
  std::vector<Notice> notices;
  {
    absl::MutexLock lock(&mu_);
    auto it = leases_.find(lease_id);
    if (it == leases_.end() ||
        !SecretsEqual(it->second.token_sha256, TenantRegistry::HashToken(token)) ||
        it->second.info.tenant() != caller.tenant) {
      return absl::NotFoundError(absl::StrCat("lease ", lease_id, " not found"));
    }
    EndLocked(lease_id, why, "released", notices);
    ServeQueueLocked();
  }
  Deliver(notices);
  return absl::OkStatus();
}

absl::Status Coordinator::AdminRelease(const std::string& lease_id) {
  const absl::Status why = absl::UnavailableError("lease revoked by an operator");
  std::vector<Notice> notices;
  {
    absl::MutexLock lock(&mu_);
    if (leases_.count(lease_id) == 0) {
      return absl::NotFoundError(absl::StrCat("lease ", lease_id, " not found"));
    }
    EndLocked(lease_id, why, "revoked", notices);
    ServeQueueLocked();
  }
  Deliver(notices);
  return absl::OkStatus();
}

absl::StatusOr<v1::LeaseInfo> Coordinator::Admit(const std::string& lease_id,
                                                 const std::string& token,
                                                 const std::string& node) {
  absl::MutexLock lock(&mu_);
  auto it = leases_.find(lease_id);
  if (it == leases_.end() ||
      !SecretsEqual(it->second.token_sha256, TenantRegistry::HashToken(token))) {
    Audit("session_refused", {{"lease", lease_id},
                              {"node", node},
                              {"why",
                               "no such live lease "
                               "with that token"}});
    return absl::PermissionDeniedError(
        absl::StrCat("no live lease ", lease_id, " with that token"));
  }
  if (!OnNode(it->second.info, node)) {
    return absl::PermissionDeniedError(
        absl::StrCat("lease ", lease_id, " has no device on node ", node));
  }
  return it->second.info;
}

void Coordinator::ReportUsage(const std::string& node, const v1::LeaseUsage& usage) {
  absl::MutexLock lock(&mu_);
  auto it = leases_.find(usage.lease_id());
  if (it == leases_.end()) {
    // Ended already: only the traffic still counts (a node can report only
    // on sessions it held, and ended leases keep their nodes' last reports).
    if (auto ended = ended_.find(usage.lease_id()); ended != ended_.end()) {
      auto seen = ended->second.usage_by_node.find(node);
      if (seen != ended->second.usage_by_node.end()) {
        CountTrafficLocked(ended->second.tenant, usage, seen->second);
      }
    }
    return;
  }
  if (!OnNode(it->second.info, node)) return;
  v1::LeaseUsage& seen = it->second.usage_by_node[node];
  CountTrafficLocked(it->second.info.tenant(), usage, seen);
  seen.set_memory_in_use(usage.memory_in_use());
  v1::LeaseInfo& info = it->second.info;
  info.set_memory_in_use(0);
  info.set_launches(0);
  info.set_bytes_to_device(0);
  info.set_bytes_to_host(0);
  for (const auto& [name, u] : it->second.usage_by_node) {
    info.set_memory_in_use(info.memory_in_use() + u.memory_in_use());
    info.set_launches(info.launches() + u.launches());
    info.set_bytes_to_device(info.bytes_to_device() + u.bytes_to_device());
    info.set_bytes_to_host(info.bytes_to_host() + u.bytes_to_host());
  }
}

void Coordinator::CountTrafficLocked(const std::string& tenant, const v1::LeaseUsage& usage,
                                     v1::LeaseUsage& seen) {
  // Counts are cumulative per session (one per node of a lease); the
  // tenant's totals grow by what is new (a report never lowers them).
  Traffic& traffic = traffic_[tenant];
  auto grow = [](uint64_t before, uint64_t now, uint64_t& total) {
    if (now > before) total += now - before;
    return std::max(before, now);
  };
  seen.set_launches(grow(seen.launches(), usage.launches(), traffic.launches));
  seen.set_bytes_to_device(
      grow(seen.bytes_to_device(), usage.bytes_to_device(), traffic.bytes_to_device));
  seen.set_bytes_to_host(grow(seen.bytes_to_host(), usage.bytes_to_host(), traffic.bytes_to_host));
}

void Coordinator::ReportSession(const std::string& node, const std::string& lease_id, bool open) {
  std::vector<Notice> notices;
  {
    absl::MutexLock lock(&mu_);
    auto it = leases_.find(lease_id);
    if (it == leases_.end()) {
      // An ended lease's worker is gone: its devices are free now.
      if (!open && TeardownDoneLocked(lease_id, node)) ServeQueueLocked();
      return;
    }
    if (!OnNode(it->second.info, node)) return;
    std::set<std::string>& open_sessions = it->second.open_sessions;
    if (open) {
      open_sessions.insert(node);
      it->second.info.set_session_open(true);
      return;
    }
    open_sessions.erase(node);
    if (!open_sessions.empty()) return;  // a gang's sessions on other nodes go on
    // A session cannot be reopened, so once the last one closes the lease is
    // over: a holder that exits without releasing (or is killed) frees its
    // devices now, not after the TTL. The TTL still covers holders cut off
    // without their sessions closing.
    EndLocked(lease_id, absl::CancelledError("the holder closed its session"), "session_closed",
              notices);
    ServeQueueLocked();
  }
  Deliver(notices);
}

std::vector<v1::NodeInfo> Coordinator::ListNodes() {
  absl::MutexLock lock(&mu_);
  std::vector<v1::NodeInfo> out;
  for (const auto& [name, node] : nodes_) out.push_back(node.info);
  return out;
}

std::vector<v1::DeviceInfo> Coordinator::ListDevices() {
  absl::MutexLock lock(&mu_);
  // A lease's usage is reported per session: it is attributed to the
  // lease's first device.
  absl::flat_hash_map<std::string, uint64_t> used;
  for (const auto& [id, lease] : leases_) {
    used[lease.info.devices(0).device().id()] += lease.info.memory_in_use();
  }
  std::vector<v1::DeviceInfo> out;
  for (const auto& [name, node] : nodes_) {
    for (v1::DeviceInfo d : node.devices) {
      if (auto use = device_use_.find(d.id()); use != device_use_.end()) {
        d.set_leases(use->second.leases);
        d.set_leased_memory(use->second.leased_memory);
      }
      if (auto u = used.find(d.id()); u != used.end()) d.set_used_memory(u->second);
      out.push_back(std::move(d));
    }
  }
  return out;
}

namespace {
// What one anonymous holder may see of another's lease: not the holder
// string a stranger's client chose (it names people and jobs).
v1::LeaseInfo SeenBy(const Caller& caller, v1::LeaseInfo info) {
  if (!caller.is_operator && caller.tenant.empty()) info.clear_holder();
  return info;
}
}  // namespace

absl::StatusOr<Coordinator::LeasePage> Coordinator::ListLeases(const Caller& caller,
                                                               uint32_t page_size,
                                                               absl::string_view page_token) {
  // A token names where the last page stopped: 'a' and the last live
  // lease's id, or 'q' and the last queued one's ("q" alone: the queue's
  // start). Ids are short; anything else was not given out here.
  if (!page_token.empty() &&
      ((page_token[0] != 'a' && page_token[0] != 'q') || page_token.size() > 129)) {
    return absl::InvalidArgumentError(absl::StrCat("page_token '", ClientText(page_token),
                                                   "' is not one this coordinator gave out"));
  }
  const size_t size = page_size == 0 ? kDefaultLeasePage : std::min(page_size, kMaxLeasePage);
  const bool in_queue = !page_token.empty() && page_token[0] == 'q';
  const std::string after(page_token.empty() ? "" : page_token.substr(1));
  LeasePage page;
  absl::MutexLock lock(&mu_);
  if (!in_queue) {
    for (auto it = after.empty() ? leases_.begin() : leases_.upper_bound(after);
         it != leases_.end(); ++it) {
      if (!CanSee(caller, it->second.info.tenant())) continue;
      if (page.leases.size() == size) {
        page.next_page_token = absl::StrCat("a", page.leases.back().lease_id());
        return page;
      }
      page.leases.push_back(SeenBy(caller, it->second.info));
    }
  }
  // Queued requests, by id; each keeps its place in the queue in its info.
  std::vector<std::pair<const std::string*, size_t>> queued;
  for (size_t i = 0; i < queue_.size(); ++i) {
    if ((!in_queue || queue_[i]->id > after) && CanSee(caller, queue_[i]->tenant)) {
      queued.emplace_back(&queue_[i]->id, i);
    }
  }
  std::sort(queued.begin(), queued.end(),
            [](const auto& x, const auto& y) { return *x.first < *y.first; });
  for (const auto& [id, position] : queued) {
    if (page.leases.size() == size) {
      page.next_page_token = page.leases.back().state() == "queued"
                                 ? absl::StrCat("q", page.leases.back().lease_id())
                                 : "q";
      return page;
    }
    page.leases.push_back(SeenBy(caller, QueuedInfo(*queue_[position], position)));
  }
  return page;
}

std::vector<v1::LeaseInfo> Coordinator::ListLeases(const Caller& caller) {
  std::vector<v1::LeaseInfo> out;
  std::string token;
  do {
    absl::StatusOr<LeasePage> page = ListLeases(caller, kMaxLeasePage, token);
    if (!page.ok()) break;  // the tokens are this function's own
    for (v1::LeaseInfo& l : page->leases) out.push_back(std::move(l));
    token = std::move(page->next_page_token);
  } while (!token.empty());
  return out;
}

absl::StatusOr<v1::LeaseInfo> Coordinator::ExplainLease(const std::string& lease_id,
                                                        const Caller& caller) {
  absl::MutexLock lock(&mu_);
  if (auto it = leases_.find(lease_id);
      it != leases_.end() && CanSee(caller, it->second.info.tenant())) {
    return SeenBy(caller, it->second.info);
  }
  for (size_t i = 0; i < queue_.size(); ++i) {
    if (queue_[i]->id == lease_id && CanSee(caller, queue_[i]->tenant)) {
      return SeenBy(caller, QueuedInfo(*queue_[i], i));
    }
  }
  // Another tenant's lease looks the same as none.
  return absl::NotFoundError(absl::StrCat("no live or queued lease ", lease_id));
}

absl::StatusOr<bool> Coordinator::SeedTenant(const Tenant& tenant) {
  absl::MutexLock admin(&admin_mu_);
  Tenant checked;
  {
    absl::MutexLock lock(&mu_);
    if (tenants_.Find(tenant.name) != nullptr) return false;
    // Checked against the others (a token of another tenant's) before it
    // is kept.
    TenantRegistry updated = tenants_;
    if (absl::Status s = updated.Define(tenant); !s.ok()) return s;
    checked = *updated.Find(tenant.name);
  }
  if (options_.store != nullptr) {
    if (absl::Status s = options_.store->PutTenant(checked); !s.ok()) return s;
  }
  absl::MutexLock lock(&mu_);
  if (absl::Status s = tenants_.Define(checked); !s.ok()) return s;
  return true;
}

std::vector<v1::TenantInfo> Coordinator::ListTenants(const Caller& caller) {
  absl::MutexLock lock(&mu_);
  if (caller.is_operator) return tenants_.List();
  std::vector<v1::TenantInfo> out;
  if (std::optional<v1::TenantInfo> own = tenants_.Describe(caller.tenant)) out.push_back(*own);
  return out;
}

void Coordinator::EndTenantLeasesLocked(const std::string& tenant, const absl::Status& why,
                                        std::vector<Notice>& notices) {
  std::vector<std::string> live;
  for (const auto& [id, lease] : leases_) {
    if (lease.info.tenant() == tenant) live.push_back(id);
  }
  for (const std::string& id : live) EndLocked(id, why, "revoked", notices);
  // Its waiting requests fail now, with the same reason.
  std::vector<std::shared_ptr<Waiter>> waiting;
  for (const std::shared_ptr<Waiter>& w : queue_) {
    if (w->tenant == tenant) waiting.push_back(w);
  }
  for (const std::shared_ptr<Waiter>& w : waiting) {
    DequeueLocked(*w);
    w->result = why;
    w->done = true;
  }
  ServeQueueLocked();
}

absl::StatusOr<v1::PutTenantResponse> Coordinator::PutTenant(const v1::PutTenantRequest& request) {
  absl::MutexLock admin(&admin_mu_);
  const std::string& name = request.tenant().name();
  Tenant tenant;
  std::string token;
  bool rotated = false;
  {
    absl::MutexLock lock(&mu_);
    // Decided on a copy, kept before it takes effect: a tenant the store
    // lost would vanish at the next restart with its leases.
    TenantRegistry updated = tenants_;
    rotated = request.rotate_token() && tenants_.Find(name) != nullptr;
    absl::StatusOr<std::string> put =
        updated.Put(request.tenant(), request.create(), request.rotate_token());
    if (!put.ok()) return put.status();
    token = *std::move(put);
    tenant = *updated.Find(name);
  }
  if (options_.store != nullptr) {
    if (absl::Status s = options_.store->PutTenant(tenant); !s.ok()) return s;
  }
  std::vector<Notice> notices;
  v1::PutTenantResponse response;
  {
    absl::MutexLock lock(&mu_);
    // Only admin_mu_'s holders change tenants, so this applies to the
    // registry the change was decided on; use counted meanwhile stays.
    if (absl::Status s = tenants_.Define(tenant); !s.ok()) return s;
    // Whoever held the old token holds nothing any more, including a lease
    // granted to it while the store was written.
    if (rotated) {
      EndTenantLeasesLocked(
          name,
          absl::UnauthenticatedError(absl::StrCat("the token of tenant ", name,
                                                  " was rotated: its leases ended; lease again "
                                                  "with the new token")),
          notices);
    }
    *response.mutable_tenant() = *tenants_.Describe(name);
    response.set_token(token);
  }
  Deliver(notices);
  return response;
}

absl::Status Coordinator::DeleteTenant(const std::string& name) {
  absl::MutexLock admin(&admin_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (tenants_.Find(name) == nullptr) {
      return absl::NotFoundError(absl::StrCat("no tenant named ", ClientText(name)));
    }
  }
  if (options_.store != nullptr) {
    if (absl::Status s = options_.store->DeleteTenant(name); !s.ok()) return s;
  }
  std::vector<Notice> notices;
  {
    absl::MutexLock lock(&mu_);
    EndTenantLeasesLocked(
        name,
        absl::UnauthenticatedError(absl::StrCat("tenant ", name, " was deleted: its leases ended")),
        notices);
    if (absl::Status s = tenants_.Remove(name); !s.ok()) return s;
  }
  Deliver(notices);
  return absl::OkStatus();
}

absl::Status Coordinator::Drain(const std::string& node, bool undrain) {
  absl::MutexLock admin(&admin_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (nodes_.count(node) == 0) return absl::NotFoundError(absl::StrCat("no node named ", node));
  }
  if (options_.store != nullptr) {
    if (absl::Status s = options_.store->SetDrained(node, !undrain); !s.ok()) return s;
  }
  absl::MutexLock lock(&mu_);
  // Nodes stay known once seen (a lost one as "lost"), so it is still here.
  auto it = nodes_.find(node);
  if (it == nodes_.end()) return absl::NotFoundError(absl::StrCat("no node named ", node));
  it->second.drained = !undrain;
  // A lost node stays lost until it registers again; then the drain applies.
  if (it->second.info.state() != "lost") {
    it->second.info.set_state(undrain ? "ready" : "draining");
  }
  if (undrain) ServeQueueLocked();
  return absl::OkStatus();
}

void Coordinator::ReapLoop() {
  absl::MutexLock lock(&mu_);
  auto passed = std::chrono::steady_clock::now();  // the end of the last pass
  while (!stopping_) {
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::FromChrono(options_.reap_interval));
    if (stopping_) break;
    auto now = std::chrono::steady_clock::now();
    // Woken late: the lock was held long (a state store write waiting on
    // etcd, say). Heartbeats and renewals waited for it as this pass did,
    // so that time counts against no node and no lease.
    if (const auto stall = now - passed - options_.reap_interval; stall > options_.reap_interval) {
      for (auto& [name, node] : nodes_) node.last_heartbeat += stall;
      for (auto& [id, lease] : leases_) lease.expires += stall;
    }
    const auto silence = options_.node_heartbeat * options_.node_lost_after;
    std::vector<Notice> notices;
    for (auto& [name, node] : nodes_) {
      if (node.remote && node.info.state() != "lost" && now - node.last_heartbeat > silence) {
        LoseNodeLocked(
            node,
            absl::StrCat("no heartbeat for ", absl::FormatDuration(absl::FromChrono(silence))),
            notices);
      }
      if (node.rejoin_by && now > *node.rejoin_by) {
        node.rejoin_by.reset();
        const absl::Status why = absl::UnavailableError(
            absl::StrCat("node ", name, " did not rejoin within ",
                         absl::FormatDuration(absl::FromChrono(options_.rejoin_grace)),
                         " of the coordinator's restart"));
        std::vector<std::string> ids;
        for (const auto& [id, lease] : leases_) {
          if (OnNode(lease.info, name)) ids.push_back(id);
        }
        for (const std::string& id : ids) EndLocked(id, why, "node_lost", notices);
      }
    }
    // Teardowns whose node was lost, or never answered.
    std::vector<std::pair<std::string, std::string>> finished;
    for (const auto& [id, teardown] : teardowns_) {
      for (const std::string& name : teardown.nodes) {
        auto node = nodes_.find(name);
        if (now > teardown.give_up || node == nodes_.end() || node->second.info.state() == "lost") {
          finished.emplace_back(id, name);
        }
      }
    }
    bool freed = false;
    for (const auto& [id, name] : finished) freed |= TeardownDoneLocked(id, name);
    if (freed && notices.empty()) ServeQueueLocked();
    const absl::Status why =
        absl::DeadlineExceededError("lease expired: no heartbeat within its TTL");
    for (auto it = leases_.begin(); it != leases_.end();) {
      std::string id = it->first;
      bool lapsed = it->second.expires < now;
      ++it;  // EndLocked erases the current entry
      if (lapsed) EndLocked(id, why, "expired", notices);
    }
    if (!notices.empty()) {
      // Leases ended (or a node was lost): what they held may fit the queue.
      ServeQueueLocked();
      mu_.Unlock();
      Deliver(notices);
      mu_.Lock();
    }
    passed = std::chrono::steady_clock::now();
  }
}

}  // namespace accel::pool
