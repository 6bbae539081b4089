// The Coordinator gRPC service: a thin translation onto the Coordinator that
// leads now (leadership.h). A standby answers UNAVAILABLE, naming the leader
// in its message and in the x-accel-leader trailing metadata
// (pool/common/coordinator_list.h), so callers move there.
#ifndef ACCEL_POOL_COORDINATOR_COORDINATOR_SERVICE_H_
#define ACCEL_POOL_COORDINATOR_COORDINATOR_SERVICE_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <set>
#include <string>

#include "pool/common/wire.h"
#include "pool/coordinator/admin_socket.h"
#include "pool/coordinator/coordinator.h"
#include "pool/coordinator/leadership.h"

namespace accel::pool {

// Who may call a CoordinatorService as an operator, beside the operator token
// and the admin socket's callers (CoordinatorService::set_admin_socket).
struct OperatorAccess {
  // Common names of verified client certificates that are operators.
  std::set<std::string> operator_names;
};

class CoordinatorService final : public v1::Coordinator::Service {
 public:
  using Access = OperatorAccess;
  // `heartbeat` is what registering nodes are told to use.
  CoordinatorService(Leadership& leadership, std::chrono::milliseconds heartbeat,
                     Access access = {})
      : leadership_(leadership), heartbeat_(heartbeat), access_(std::move(access)) {}

  // Whether this service's server also listens on an admin socket, whose
  // callers are operators (admin_socket.h).
  void set_admin_socket(bool serves) { admin_socket_ = serves; }

  grpc::Status GetVersion(grpc::ServerContext*, const v1::VersionRequest*,
                          v1::VersionResponse*) override;
  // Answered by every coordinator, leader or standby.
  grpc::Status GetControlPlane(grpc::ServerContext*, const v1::ControlPlaneRequest*,
                               v1::ControlPlaneResponse*) override;
  grpc::Status Lease(grpc::ServerContext*, const v1::LeaseRequest*, v1::LeaseResponse*) override;
  grpc::Status Renew(grpc::ServerContext*, const v1::RenewRequest*, v1::RenewResponse*) override;
  grpc::Status Release(grpc::ServerContext*, const v1::ReleaseRequest*,
                       v1::ReleaseResponse*) override;
  grpc::Status AdminRelease(grpc::ServerContext*, const v1::AdminReleaseRequest*,
                            v1::ReleaseResponse*) override;
  grpc::Status ListNodes(grpc::ServerContext*, const v1::ListNodesRequest*,
                         v1::ListNodesResponse*) override;
  grpc::Status ListDevices(grpc::ServerContext*, const v1::ListDevicesRequest*,
                           v1::ListDevicesResponse*) override;
  grpc::Status ListLeases(grpc::ServerContext*, const v1::ListLeasesRequest*,
                          v1::ListLeasesResponse*) override;
  grpc::Status DrainNode(grpc::ServerContext*, const v1::DrainNodeRequest*,
                         v1::DrainNodeResponse*) override;
  grpc::Status NodeLink(
      grpc::ServerContext*,
      grpc::ServerReaderWriter<v1::NodeLinkResponse, v1::NodeLinkRequest>* stream) override;
  grpc::Status Admit(grpc::ServerContext*, const v1::AdmitRequest*, v1::LeaseInfo*) override;
  grpc::Status ListTenants(grpc::ServerContext*, const v1::ListTenantsRequest*,
                           v1::ListTenantsResponse*) override;
  grpc::Status PutTenant(grpc::ServerContext*, const v1::PutTenantRequest*,
                         v1::PutTenantResponse*) override;
  grpc::Status DeleteTenant(grpc::ServerContext*, const v1::DeleteTenantRequest*,
                            v1::DeleteTenantResponse*) override;
  grpc::Status ExplainLease(grpc::ServerContext*, const v1::ExplainLeaseRequest*,
                            v1::LeaseInfo*) override;

 private:
  // The coordinator that leads, or UNAVAILABLE naming the leader (also in
  // the call's trailing metadata).
  absl::StatusOr<std::shared_ptr<Coordinator>> Leading(grpc::ServerContext* context);
  // Who calls, from the call's bearer token and peer.
  absl::StatusOr<Caller> Identify(Coordinator& coordinator, const grpc::ServerContext* context);
  // PERMISSION_DENIED unless an operator calls.
  absl::StatusOr<Caller> IdentifyOperator(Coordinator& coordinator,
                                          const grpc::ServerContext* context);
  // An operator's call: checks the caller, runs `body`, and records who did
  // `action` (on `fields`) and how it went in the audit log.
  grpc::Status Operate(grpc::ServerContext* context, const char* action, AuditLog::Fields fields,
                       const std::function<absl::Status(Coordinator&)>& body);

  Leadership& leadership_;
  const std::chrono::milliseconds heartbeat_;
  const Access access_;
  std::atomic<bool> admin_socket_{false};
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_COORDINATOR_COORDINATOR_SERVICE_H_
