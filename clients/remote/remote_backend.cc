#include "clients/remote/remote_backend.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <tuple>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "accel/hal/plugin/backend_interface.h"
#include "accel/hal/types.h"
#include "clients/remote/connection.h"
#include "clients/remote/pool_client.h"
#include "clients/remote/remote_objects.h"
#include "pool/common/status_convert.h"

namespace accel::client {
namespace {

std::string Setting(const plugin::BackendOptions& options, const char* key, const char* env) {
  if (auto it = options.find(key); it != options.end()) return it->second;
  const char* value = env != nullptr ? std::getenv(env) : nullptr;
  return value != nullptr ? value : "";
}

// The lease the options ask for (one place builds the wire request:
// WireRequest, as for accel::client::AcquireLease).
absl::StatusOr<LeaseRequest> RequestFromOptions(const plugin::BackendOptions& options) {
  LeaseRequest request;
  if (std::string n = Setting(options, "devices", "ACCEL_POOL_DEVICES"); !n.empty()) {
    if (!absl::SimpleAtoi(n, &request.devices) || request.devices == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("device count '", n, "' is not a positive number"));
    }
  }
  request.backend = Setting(options, "backend", "ACCEL_POOL_BACKEND");
  request.vendor = Setting(options, "vendor", nullptr);
  request.arch = Setting(options, "arch", nullptr);
  for (auto [key, env, field] :
       {std::tuple{"min_memory", static_cast<const char*>(nullptr), &LeaseRequest::min_memory},
        std::tuple{"memory", "ACCEL_POOL_MEMORY", &LeaseRequest::memory}}) {
    if (std::string m = Setting(options, key, env); !m.empty()) {
      absl::StatusOr<uint64_t> bytes = hal::ParseByteSize(m);
      if (!bytes.ok()) return bytes.status();
      request.*field = *bytes;
    }
  }
  for (absl::string_view pair :
       absl::StrSplit(Setting(options, "labels", "ACCEL_POOL_LABELS"), ',', absl::SkipEmpty())) {
    std::vector<std::string> kv = absl::StrSplit(pair, absl::MaxSplits('=', 1));
    if (kv.size() != 2) return absl::InvalidArgumentError(absl::StrCat("bad label '", pair, "'"));
    request.labels[kv[0]] = kv[1];
  }
  for (auto [key, env, field] :
       {std::tuple{"ttl", static_cast<const char*>(nullptr), &LeaseRequest::ttl_seconds},
        std::tuple{"wait", "ACCEL_POOL_WAIT", &LeaseRequest::wait_seconds},
        std::tuple{"compute_weight", static_cast<const char*>(nullptr),
                   &LeaseRequest::compute_weight}}) {
    if (std::string text = Setting(options, key, env); !text.empty()) {
      if (!absl::SimpleAtoi(text, &(request.*field))) {
        return absl::InvalidArgumentError(absl::StrCat(key, " '", text, "' is not a number"));
      }
    }
  }
  request.policy = Setting(options, "policy", nullptr);
  request.across_nodes = Setting(options, "across_nodes", nullptr) == "1";
  request.holder = Setting(options, "holder", nullptr);
  return request;
}

class RemoteBackend : public plugin::BackendImpl {
 public:
  explicit RemoteBackend(std::string reason) : reason_(std::move(reason)) {}
  // `connections`: one per node of the lease, by node name.
  explicit RemoteBackend(const v1::LeaseInfo& lease,
                         std::map<std::string, std::shared_ptr<Connection>> connections)
      : connections_(std::move(connections)) {
    for (int i = 0; i < lease.devices_size(); ++i) {
      devices_.push_back(
          std::make_unique<RemoteDevice>(connections_.at(lease.devices(i).device().node()),
                                         static_cast<uint32_t>(i), lease.devices(i)));
    }
  }
  ~RemoteBackend() override {
    devices_.clear();
    connections_.clear();  // releases the lease once the last object is gone
  }
  const std::string& unavailable_reason() const override { return reason_; }
  uint32_t device_count() const override { return static_cast<uint32_t>(devices_.size()); }
  plugin::DeviceImpl& device(uint32_t index) override { return *devices_[index]; }

 private:
  std::map<std::string, std::shared_ptr<Connection>> connections_;
  std::vector<std::unique_ptr<RemoteDevice>> devices_;
  std::string reason_;
};

absl::StatusOr<std::unique_ptr<plugin::BackendImpl>> CreateRemoteBackend(
    const plugin::BackendOptions& options) {
  const std::string address = Setting(options, "pool", "ACCEL_POOL");
  const std::string token = TenantToken(Setting(options, "token", nullptr));
  if (address.empty()) {
    return std::make_unique<RemoteBackend>("no pool configured (set ACCEL_POOL=host:port)");
  }
  absl::StatusOr<std::shared_ptr<PoolClient>> pool =
      PoolClient::Create(address, {Setting(options, "tls_ca", "ACCEL_POOL_TLS_CA"),
                                   Setting(options, "tls_cert", "ACCEL_POOL_TLS_CERT"),
                                   Setting(options, "tls_key", "ACCEL_POOL_TLS_KEY")});
  if (!pool.ok()) return std::make_unique<RemoteBackend>(pool.status().ToString());
  v1::LeaseResponse lease;
  if (std::string granted = Setting(options, "lease", nullptr); !granted.empty()) {
    // Handed over by accel::client::AcquireLease, which already asked the pool.
    if (!lease.ParseFromString(absl::HexStringToBytes(granted))) {
      return absl::InvalidArgumentError("malformed 'lease' option");
    }
  } else {
    absl::StatusOr<LeaseRequest> request = RequestFromOptions(options);
    if (!request.ok()) return request.status();
    absl::StatusOr<v1::LeaseResponse> granted_now =
        (*pool)->RequestLease(WireRequest(*request), token);
    // An unreachable or full pool is a reason to have no devices, not a crash.
    if (!granted_now.ok()) return std::make_unique<RemoteBackend>(granted_now.status().ToString());
    lease = *std::move(granted_now);
  }
  // One session per node of the lease (a gang across nodes has several).
  std::map<std::string, std::shared_ptr<Connection>> connections;
  // Renewed once, and released with the last of its sessions.
  auto held = std::make_shared<HeldLease>(*pool, lease, token);
  for (const v1::LeasedDevice& d : lease.lease().devices()) {
    const std::string& node = d.device().node();
    if (connections.count(node) != 0) continue;
    // (A coordinator of protocol 1.0 names only the lease's node.)
    const std::string& address =
        d.node_address().empty() ? lease.lease().node_address() : d.node_address();
    absl::StatusOr<std::shared_ptr<Connection>> connection =
        Connection::Open(held, {node, address});
    if (!connection.ok()) return connection.status();
    connections[node] = *std::move(connection);
  }
  return std::make_unique<RemoteBackend>(lease.lease(), std::move(connections));
}

}  // namespace

std::string DefaultHolder() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  // $USER is often unset in services and containers; the password database is not.
  const char* user = std::getenv("USER");
  if (user == nullptr) {
    const passwd* entry = getpwuid(getuid());
    user = entry != nullptr ? entry->pw_name : "unknown";
  }
  return absl::StrCat(user, "@", host, " pid ", getpid());
}

const AccelBackendApi* RemoteBackendApi(uint32_t hal_abi_major) {
  return plugin::ExportBackend("remote", CreateRemoteBackend, hal_abi_major);
}

}  // namespace accel::client
