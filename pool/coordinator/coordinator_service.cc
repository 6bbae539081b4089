#include "pool/coordinator/coordinator_service.h"

#include "absl/strings/str_cat.h"
#include "pool/common/status_convert.h"
#include "pool/common/version.h"

namespace accel::pool {

grpc::Status CoordinatorService::GetVersion(grpc::ServerContext*, const v1::VersionRequest*,
                                            v1::VersionResponse* response) {
  response->set_server_major(kProtocolMajor);
  response->set_server_minor(kProtocolMinor);
  response->set_server_build("accelpool poold");
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::Lease(grpc::ServerContext*, const v1::LeaseRequest* request,
                                       v1::LeaseResponse* response) {
  absl::StatusOr<v1::LeaseResponse> lease = coordinator_.Lease(*request);
  if (!lease.ok()) return ToGrpc(lease.status());
  *response = *std::move(lease);
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::Renew(grpc::ServerContext*, const v1::RenewRequest* request,
                                       v1::RenewResponse* response) {
  absl::StatusOr<int64_t> expires = coordinator_.Renew(request->lease_id(), request->token());
  if (!expires.ok()) return ToGrpc(expires.status());
  response->set_expires_unix_ms(*expires);
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::Release(grpc::ServerContext*, const v1::ReleaseRequest* request,
                                         v1::ReleaseResponse*) {
  return ToGrpc(coordinator_.Release(request->lease_id(), request->token()));
}

namespace {
// Operator calls are taken only from this host until tenants and operator
// credentials exist: anyone who can reach the pool could otherwise revoke
// other tenants' leases.
absl::Status CheckOperator(const grpc::ServerContext* context) {
  const std::string peer = context->peer();
  if (peer.rfind("ipv4:127.", 0) == 0 || peer.rfind("ipv6:[::1]", 0) == 0 ||
      peer.rfind("unix:", 0) == 0) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      absl::StrCat("operator calls are accepted from this host only, not from ", peer));
}
}  // namespace

grpc::Status CoordinatorService::AdminRelease(grpc::ServerContext* context,
                                              const v1::AdminReleaseRequest* request,
                                              v1::ReleaseResponse*) {
  if (absl::Status s = CheckOperator(context); !s.ok()) return ToGrpc(s);
  return ToGrpc(coordinator_.AdminRelease(request->lease_id()));
}

grpc::Status CoordinatorService::ListNodes(grpc::ServerContext*, const v1::ListNodesRequest*,
                                           v1::ListNodesResponse* response) {
  for (v1::NodeInfo& n : coordinator_.ListNodes()) *response->add_nodes() = std::move(n);
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::ListDevices(grpc::ServerContext*, const v1::ListDevicesRequest*,
                                             v1::ListDevicesResponse* response) {
  for (v1::DeviceInfo& d : coordinator_.ListDevices()) *response->add_devices() = std::move(d);
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::ListLeases(grpc::ServerContext*, const v1::ListLeasesRequest*,
                                            v1::ListLeasesResponse* response) {
  for (v1::LeaseInfo& l : coordinator_.ListLeases()) *response->add_leases() = std::move(l);
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::DrainNode(grpc::ServerContext* context,
                                           const v1::DrainNodeRequest* request,
                                           v1::DrainNodeResponse*) {
  if (absl::Status s = CheckOperator(context); !s.ok()) return ToGrpc(s);
  return ToGrpc(coordinator_.Drain(request->node(), request->undrain()));
}

}  // namespace accel::pool
