#include "accel/client/lease.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "accel/hal/registry.h"
#include "clients/remote/pool_client.h"
#include "clients/remote/remote_backend.h"

namespace accel::client {

absl::StatusOr<std::unique_ptr<Lease>> AcquireLease(const std::string& pool,
                                                    const LeaseRequest& request) {
  if (request.devices == 0) return absl::InvalidArgumentError("a lease needs at least 1 device");
  const std::string tenant_token = TenantToken(request.token);
  const pool::TlsFiles defaults = pool::TlsFilesFromEnvironment();
  const pool::TlsFiles tls{request.tls_ca.empty() ? defaults.ca : request.tls_ca,
                           request.tls_cert.empty() ? defaults.cert : request.tls_cert,
                           request.tls_key.empty() ? defaults.key : request.tls_key};
  absl::StatusOr<std::shared_ptr<PoolClient>> client = PoolClient::Create(pool, tls);
  if (!client.ok()) return client.status();
  absl::StatusOr<v1::LeaseResponse> granted =
      (*client)->RequestLease(WireRequest(request), tenant_token);
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
  return std::unique_ptr<Lease>(new Lease(granted->lease().lease_id(), granted->token(),
                                          tenant_token, *std::move(client), *std::move(backend)));
}

absl::Status Lease::Release() { return pool_->Release(id_, token_, tenant_token_); }

}  // namespace accel::client
