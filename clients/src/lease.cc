#include "accel/client/lease.h"

#include <cstdlib>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "accel/hal/registry.h"
#include "clients/remote/connection.h"
#include "clients/remote/remote_backend.h"
#include "pool/common/bearer_token.h"
#include "pool/common/status_convert.h"

namespace accel::client {

absl::StatusOr<std::unique_ptr<Lease>> AcquireLease(const std::string& pool,
                                                    const LeaseRequest& request) {
  if (request.devices == 0) return absl::InvalidArgumentError("a lease needs at least 1 device");
  v1::LeaseRequest wire;
  wire.set_device_count(request.devices);
  wire.set_backend(request.backend);
  wire.set_vendor(request.vendor);
  wire.set_arch(request.arch);
  wire.set_min_free_memory(request.min_memory);
  for (const auto& [key, value] : request.labels) (*wire.mutable_labels())[key] = value;
  wire.set_ttl_seconds(request.ttl_seconds);
  wire.set_holder(request.holder.empty() ? DefaultHolder() : request.holder);
  wire.set_memory(request.memory);
  wire.set_compute_weight(request.compute_weight);
  wire.set_policy(request.policy);
  wire.set_wait_seconds(request.wait_seconds);
  wire.set_across_nodes(request.across_nodes);
  std::string tenant_token = request.token;
  if (const char* env = std::getenv("ACCEL_POOL_TOKEN"); tenant_token.empty() && env != nullptr) {
    tenant_token = env;
  }
  const pool::TlsFiles defaults = pool::TlsFilesFromEnvironment();
  const pool::TlsFiles tls{request.tls_ca.empty() ? defaults.ca : request.tls_ca,
                           request.tls_cert.empty() ? defaults.cert : request.tls_cert,
                           request.tls_key.empty() ? defaults.key : request.tls_key};
  absl::StatusOr<PoolTarget> target = MakePoolTarget(pool, tls);
  if (!target.ok()) return target.status();
  absl::StatusOr<v1::LeaseResponse> granted = RequestLease(*target, wire, tenant_token);
  if (!granted.ok()) return granted.status();

  // The granted lease goes to an in-process remote backend, which opens the
  // session and renews the lease; its devices are plain HAL devices.
  std::map<std::string, std::string> options = {
      {"pool", pool},          {"lease", absl::BytesToHexString(granted->SerializeAsString())},
      {"token", tenant_token}, {"tls_ca", tls.ca},
      {"tls_cert", tls.cert},  {"tls_key", tls.key}};
  absl::StatusOr<hal::Backend> backend =
      hal::Registry::OpenLinkedBackend(RemoteBackendApi(ACCEL_PLUGIN_ABI_MAJOR), options);
  if (!backend.ok()) return backend.status();
  return std::unique_ptr<Lease>(
      new Lease(granted->lease().lease_id(), granted->token(), tenant_token,
                std::make_shared<const PoolTarget>(*std::move(target)), *std::move(backend)));
}

absl::Status Lease::Release() {
  std::unique_ptr<v1::Coordinator::Stub> stub = pool_->Coordinator();
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  pool::AttachBearerToken(context, tenant_token_);
  v1::ReleaseRequest request;
  request.set_lease_id(id_);
  request.set_token(token_);
  v1::ReleaseResponse response;
  return pool::FromGrpc(stub->Release(&context, request, &response), "Release");
}

}  // namespace accel::client
