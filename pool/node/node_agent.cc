#include "pool/node/node_agent.h"

#include "absl/strings/str_cat.h"
#include "pool/common/random_token.h"

namespace accel::pool {

NodeAgent::NodeAgent(Options options, std::vector<hal::Device> devices, LeaseAuthority& authority)
    : options_(std::move(options)), devices_(std::move(devices)), authority_(authority) {
  for (size_t i = 0; i < devices_.size(); ++i) shares_.push_back(std::make_shared<ComputeShares>());
}

std::vector<v1::DeviceInfo> NodeAgent::DeviceInfos() const {
  std::vector<v1::DeviceInfo> out;
  for (const hal::Device& device : devices_) {
    const hal::DeviceProperties& p = device.properties();
    v1::DeviceInfo d;
    d.set_node(options_.name);
    d.set_backend(p.backend);
    d.set_index(p.index);
    d.set_name(p.name);
    d.set_vendor(p.vendor);
    d.set_arch(p.arch);
    d.set_uuid(p.uuid);
    d.set_pci_bus_id(p.pci_bus_id);
    d.set_numa_node(p.numa_node);
    d.set_compute_units(p.compute_units);
    d.set_total_memory(p.total_memory);
    d.set_max_threads_per_block(p.max_threads_per_block);
    auto set_dim = [](v1::Dim3* out, const hal::Dim3& in) {
      out->set_x(in.x);
      out->set_y(in.y);
      out->set_z(in.z);
    };
    set_dim(d.mutable_max_grid(), p.max_grid);
    set_dim(d.mutable_max_block(), p.max_block);
    d.set_max_shared_memory_per_block(p.max_shared_memory_per_block);
    for (const auto& [key, value] : options_.labels) (*d.mutable_labels())[key] = value;
    if (auto own = options_.device_labels.find(p.id); own != options_.device_labels.end()) {
      for (const auto& [key, value] : own->second) (*d.mutable_labels())[key] = value;
    }
    out.push_back(std::move(d));
  }
  return out;
}

std::optional<size_t> NodeAgent::LocalIndex(const v1::DeviceInfo& device) const {
  if (device.node() != options_.name) return std::nullopt;
  for (size_t i = 0; i < devices_.size(); ++i) {
    if (devices_[i].properties().backend == device.backend() &&
        devices_[i].properties().index == device.index()) {
      return i;
    }
  }
  return std::nullopt;
}

void NodeAgent::AddNativeAttributes(const v1::LeaseInfo& lease, v1::SessionResponse& hello) const {
  for (const v1::LeasedDevice& leased : lease.devices()) {
    const std::optional<size_t> local = LocalIndex(leased.device());
    if (!local) continue;
    const std::map<int32_t, int64_t>& attributes = devices_[*local].properties().native_attributes;
    if (attributes.empty()) continue;
    (*hello.mutable_native_attributes())[leased.device().id()].mutable_values()->insert(
        attributes.begin(), attributes.end());
  }
}

absl::StatusOr<std::shared_ptr<SessionProcess>> NodeAgent::Open(const std::string& lease_id,
                                                                const std::string& token,
                                                                std::shared_ptr<SessionLink> link) {
  if (closing())
    return absl::UnavailableError(absl::StrCat("node ", options_.name, " is shutting down"));
  absl::StatusOr<v1::LeaseInfo> lease = authority_.Admit(lease_id, token, options_.name);
  if (!lease.ok()) return lease.status();
  {
    absl::MutexLock lock(&mu_);
    if (absl::Status room = RoomForASessionLocked(); !room.ok()) return room;
  }

  SessionProcess::Config config;
  config.worker_path = options_.worker_path.empty() ? DefaultWorkerPath() : options_.worker_path;
  worker::v1::WorkerInit& init = config.init;
  *init.mutable_lease() = *lease;
  init.set_allow_host_kernels(options_.allow_host_kernels);
  init.set_module_cache_bytes(options_.module_cache_bytes);
  for (const auto& [backend, settings] : options_.backend_options) {
    for (const auto& [key, value] : settings) {
      worker::v1::WorkerInit::BackendOption* o = init.add_backend_options();
      o->set_backend(backend);
      o->set_key(key);
      o->set_value(value);
    }
  }
  if (bulk_port_ != 0) {
    config.bulk_key = RandomHex(16);
    init.set_bulk_channel(true);
  }
  for (const v1::LeasedDevice& leased : lease->devices()) {
    worker::v1::WorkerInit::Device* device = init.add_devices();
    if (leased.device().node() != options_.name) {
      // A gang across nodes: that device has its session on its own node.
      config.shares.push_back(nullptr);
      config.weights.push_back(0);
      config.kernel_limits.emplace_back(0);
      continue;
    }
    const std::optional<size_t> local_index = LocalIndex(leased.device());
    if (!local_index) {
      return absl::InternalError(absl::StrCat("lease names device ", leased.device().id(),
                                              " that this node does not serve"));
    }
    const hal::Device* local = &devices_[*local_index];
    // The tenant's own limit, where the operator gave it one, else the pool's.
    const std::chrono::milliseconds limit = lease->max_kernel_ms() != 0
                                                ? std::chrono::milliseconds(lease->max_kernel_ms())
                                            : leased.shared() ? options_.max_shared_kernel_time
                                                              : options_.max_kernel_time;
    device->set_id(local->id());
    device->set_quota(leased.memory_quota());
    // Launches ask the node for their turn where the device is shared, or
    // where the watchdog times them.
    device->set_shared(leased.shared() || limit.count() > 0);
    config.shares.push_back(leased.shared() ? shares_[*local_index] : nullptr);
    config.weights.push_back(leased.compute_weight());
    config.kernel_limits.push_back(limit);
  }

  // A worker of host devices alone runs under the seccomp sandbox: host
  // kernels are native code. (GPU drivers need files and more.)
  bool host_only = true;
  for (const worker::v1::WorkerInit::Device& d : init.devices()) {
    if (!d.id().empty() && d.id().rfind("host:", 0) != 0) host_only = false;
  }
  init.set_sandbox(host_only);
  absl::StatusOr<std::shared_ptr<SessionProcess>> started = SessionProcess::Start(
      std::move(config), std::move(link),
      [this](const v1::LeaseUsage& usage) { authority_.ReportUsage(options_.name, usage); });
  if (!started.ok()) return started.status();
  std::shared_ptr<SessionProcess> session = *std::move(started);
  {
    absl::MutexLock lock(&mu_);
    if (absl::Status room = RoomForASessionLocked(); !room.ok()) return room;
    if (!sessions_.emplace(lease_id, session).second) {
      return absl::FailedPreconditionError(
          absl::StrCat("lease ", lease_id, " already has an open session"));
    }
    if (!session->bulk_key().empty()) bulk_keys_[session->bulk_key()] = lease_id;
  }
  // The lease may have ended between admission and registration, when no
  // session was there to be told: OnLeaseEnded kept its id. (The node may
  // have begun shutting down, too.)
  bool ended = false;
  {
    absl::MutexLock lock(&mu_);
    ended = closing_ || ended_unopened_.count(lease_id) != 0;
  }
  if (ended) {
    Close(session);
    return absl::FailedPreconditionError(absl::StrCat("lease ", lease_id, " ended while opening"));
  }
  authority_.ReportSession(options_.name, lease_id, true);
  return session;
}

void NodeAgent::Close(std::shared_ptr<SessionProcess> session) {
  const std::string lease_id = session->lease_id();
  {
    absl::MutexLock lock(&mu_);
    auto it = sessions_.find(lease_id);
    if (it != sessions_.end() && it->second == session) sessions_.erase(it);
    bulk_keys_.erase(session->bulk_key());
  }
  // The client is gone: its worker is killed, and nothing waits for the
  // client any more.
  session->Abort();
  // Reaped before the coordinator hears of it, which ends the lease: the
  // next tenant of these devices must find their memory free.
  session.reset();
  authority_.ReportSession(options_.name, lease_id, false);
}

void NodeAgent::OnLeaseEnded(const std::string& lease_id, const absl::Status& why) {
  // End() never blocks, so this is safe from the coordinator's reaper: it
  // kills the worker, and the session's handler then reaps it.
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(lease_id);
  if (it != sessions_.end()) {
    it->second->End(why);
    return;
  }
  // A session may be opening for it right now: Open() looks here once it
  // has registered the session. Bounded; ids are never reused.
  if (ended_unopened_.insert(lease_id).second) ended_unopened_order_.push_back(lease_id);
  if (ended_unopened_order_.size() > 4096) {
    ended_unopened_.erase(ended_unopened_order_.front());
    ended_unopened_order_.pop_front();
  }
}

void NodeAgent::EndAll(const absl::Status& why) {
  absl::MutexLock lock(&mu_);
  closing_ = true;  // and no session opens from now on
  for (auto& [lease_id, session] : sessions_) session->End(why);
}

absl::Status NodeAgent::RoomForASessionLocked() {
  if (sessions_.size() < options_.max_sessions) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat("node ", options_.name,
                                                   " serves its maximum of ", options_.max_sessions,
                                                   " sessions (max_sessions)"));
}

bool NodeAgent::closing() {
  absl::MutexLock lock(&mu_);
  return closing_;
}

void NodeAgent::OfferBulkChannel(uint16_t port) { bulk_port_ = port; }

bool NodeAgent::AttachBulk(const std::string& key, std::unique_ptr<BulkSocket>& socket) {
  std::shared_ptr<SessionProcess> session;
  {
    absl::MutexLock lock(&mu_);
    auto it = bulk_keys_.find(key);
    if (it == bulk_keys_.end()) return false;
    auto s = sessions_.find(it->second);
    bulk_keys_.erase(it);  // one use
    if (s == sessions_.end()) return false;
    session = s->second;
  }
  session->AttachBulk(std::move(socket));
  return true;
}

std::vector<std::string> NodeAgent::OpenLeases() {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const auto& [lease_id, session] : sessions_) out.push_back(lease_id);
  return out;
}

}  // namespace accel::pool
