// The client's side of the pool's control plane, apart from the sessions on
// nodes (connection.h): where the coordinators are and how to reach them,
// the one place a lease request is built, and the calls that request,
// renew and release leases. Calls follow the pool's leader: given several
// coordinators (ACCEL_POOL=HOST:PORT,HOST:PORT), a call that finds a
// standby or a coordinator down moves on by itself
// (pool/common/coordinator_list.h).
#ifndef ACCEL_CLIENTS_REMOTE_POOL_CLIENT_H_
#define ACCEL_CLIENTS_REMOTE_POOL_CLIENT_H_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "accel/client/lease.h"
#include "pool/common/coordinator_list.h"
#include "pool/common/tls.h"
#include "pool/common/wire.h"

namespace accel::client {

namespace v1 = ::accelpool::v1;

// The tenant's bearer token: `given`, else $ACCEL_POOL_TOKEN ("" in pools
// without tenants).
std::string TenantToken(const std::string& given);
// The wire request for `request` (its holder defaulted to user@host pid).
v1::LeaseRequest WireRequest(const LeaseRequest& request);

class PoolClient {
 public:
  // `addresses`: the coordinators, "HOST:PORT[,HOST:PORT...]"; TLS from
  // `files` (plaintext when empty). INVALID_ARGUMENT for a bad address or a
  // file that cannot be used.
  static absl::StatusOr<std::shared_ptr<PoolClient>> Create(const std::string& addresses,
                                                            const pool::TlsFiles& files);

  // What the caller gave, for messages.
  const std::string& address() const { return address_; }
  // The credentials of every link to the pool: its coordinators and nodes.
  const std::shared_ptr<grpc::ChannelCredentials>& credentials() const { return credentials_; }
  const pool::TlsFiles& tls() const { return tls_; }

  // Asks for a lease as the tenant whose token this is; waits up to the
  // request's wait_seconds in the pool's queue.
  absl::StatusOr<v1::LeaseResponse> RequestLease(const v1::LeaseRequest& request,
                                                 const std::string& tenant_token);
  // The lease's new expiry (Unix ms); tries for at most `within`.
  absl::StatusOr<int64_t> Renew(const std::string& lease_id, const std::string& token,
                                const std::string& tenant_token, std::chrono::milliseconds within);
  absl::Status Release(const std::string& lease_id, const std::string& token,
                       const std::string& tenant_token);
  // Every live and queued lease this tenant's token may see, page by page,
  // all of them within `within`.
  absl::StatusOr<std::vector<v1::LeaseInfo>> ListLeases(const std::string& tenant_token,
                                                        std::chrono::milliseconds within);

 private:
  PoolClient(std::string address, std::shared_ptr<pool::CoordinatorList> coordinators,
             std::shared_ptr<grpc::ChannelCredentials> credentials, pool::TlsFiles tls)
      : address_(std::move(address)),
        coordinators_(std::move(coordinators)),
        credentials_(std::move(credentials)),
        tls_(std::move(tls)) {}

  const std::string address_;
  const std::shared_ptr<pool::CoordinatorList> coordinators_;
  const std::shared_ptr<grpc::ChannelCredentials> credentials_;
  const pool::TlsFiles tls_;
};

}  // namespace accel::client

#endif  // ACCEL_CLIENTS_REMOTE_POOL_CLIENT_H_
