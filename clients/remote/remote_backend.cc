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
#include "clients/remote/remote_objects.h"
#include "pool/common/status_convert.h"

namespace accel::client {
namespace {

std::string Setting(const plugin::BackendOptions& options, const char* key, const char* env) {
  if (auto it = options.find(key); it != options.end()) return it->second;
  const char* value = env != nullptr ? std::getenv(env) : nullptr;
  return value != nullptr ? value : "";
}

absl::StatusOr<v1::LeaseRequest> BuildRequest(const plugin::BackendOptions& options) {
  v1::LeaseRequest request;
  if (std::string n = Setting(options, "devices", "ACCEL_POOL_DEVICES"); !n.empty()) {
    uint32_t count = 0;
    if (!absl::SimpleAtoi(n, &count) || count == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("device count '", n, "' is not a positive number"));
    }
    request.set_device_count(count);
  }
  request.set_backend(Setting(options, "backend", "ACCEL_POOL_BACKEND"));
  request.set_vendor(Setting(options, "vendor", nullptr));
  request.set_arch(Setting(options, "arch", nullptr));
  if (std::string m = Setting(options, "min_memory", nullptr); !m.empty()) {
    absl::StatusOr<uint64_t> bytes = hal::ParseByteSize(m);
    if (!bytes.ok()) return bytes.status();
    request.set_min_free_memory(*bytes);
  }
  for (absl::string_view pair :
       absl::StrSplit(Setting(options, "labels", "ACCEL_POOL_LABELS"), ',', absl::SkipEmpty())) {
    std::vector<std::string> kv = absl::StrSplit(pair, absl::MaxSplits('=', 1));
    if (kv.size() != 2) return absl::InvalidArgumentError(absl::StrCat("bad label '", pair, "'"));
    (*request.mutable_labels())[kv[0]] = kv[1];
  }
  if (std::string m = Setting(options, "memory", "ACCEL_POOL_MEMORY"); !m.empty()) {
    absl::StatusOr<uint64_t> bytes = hal::ParseByteSize(m);
    if (!bytes.ok()) return bytes.status();
    request.set_memory(*bytes);
  }
  for (auto [key, env, set] :
       {std::tuple{"ttl", static_cast<const char*>(nullptr), &v1::LeaseRequest::set_ttl_seconds},
        std::tuple{"wait", "ACCEL_POOL_WAIT", &v1::LeaseRequest::set_wait_seconds},
        std::tuple{"compute_weight", static_cast<const char*>(nullptr),
                   &v1::LeaseRequest::set_compute_weight}}) {
    if (std::string text = Setting(options, key, env); !text.empty()) {
      uint32_t value = 0;
      if (!absl::SimpleAtoi(text, &value)) {
        return absl::InvalidArgumentError(absl::StrCat(key, " '", text, "' is not a number"));
      }
      (request.*set)(value);
    }
  }
  request.set_policy(Setting(options, "policy", nullptr));
  request.set_across_nodes(Setting(options, "across_nodes", nullptr) == "1");
  std::string holder = Setting(options, "holder", nullptr);
  request.set_holder(holder.empty() ? DefaultHolder() : holder);
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
  const std::string token = Setting(options, "token", "ACCEL_POOL_TOKEN");
  if (address.empty()) {
    return std::make_unique<RemoteBackend>("no pool configured (set ACCEL_POOL=host:port)");
  }
  absl::StatusOr<PoolTarget> pool =
      MakePoolTarget(address, {Setting(options, "tls_ca", "ACCEL_POOL_TLS_CA"),
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
    absl::StatusOr<v1::LeaseRequest> request = BuildRequest(options);
    if (!request.ok()) return request.status();
    absl::StatusOr<v1::LeaseResponse> granted_now = RequestLease(*pool, *request, token);
    // An unreachable or full pool is a reason to have no devices, not a crash.
    if (!granted_now.ok()) return std::make_unique<RemoteBackend>(granted_now.status().ToString());
    lease = *std::move(granted_now);
  }
  // One session per node of the lease (a gang across nodes has several).
  std::map<std::string, std::shared_ptr<Connection>> connections;
  auto release = std::make_shared<LeaseRelease>(*pool, lease, token);
  for (const v1::LeasedDevice& d : lease.lease().devices()) {
    const std::string& node = d.device().node();
    if (connections.count(node) != 0) continue;
    // (A coordinator of protocol 1.0 names only the lease's node.)
    const std::string& address =
        d.node_address().empty() ? lease.lease().node_address() : d.node_address();
    absl::StatusOr<std::shared_ptr<Connection>> connection =
        Connection::Open(*pool, lease, token, {node, address}, release);
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
