#include "clients/remote/pool_client.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "clients/remote/remote_backend.h"
#include "pool/common/bearer_token.h"
#include "pool/common/lease_pages.h"
#include "pool/common/status_convert.h"

namespace accel::client {
namespace {

// A coordinator that does not answer within this long is taken for down,
// and the next one is asked.
constexpr std::chrono::seconds kPerCoordinator{5};

}  // namespace

std::string TenantToken(const std::string& given) {
  if (!given.empty()) return given;
  const char* env = std::getenv("ACCEL_POOL_TOKEN");
  return env != nullptr ? env : "";
}

v1::LeaseRequest WireRequest(const LeaseRequest& request) {
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
  return wire;
}

absl::StatusOr<std::shared_ptr<PoolClient>> PoolClient::Create(const std::string& addresses,
                                                               const pool::TlsFiles& files) {
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      pool::ClientCredentials(files);
  if (!credentials.ok()) return credentials.status();
  absl::StatusOr<std::shared_ptr<pool::CoordinatorList>> coordinators =
      pool::CoordinatorList::Parse(addresses, *credentials);
  if (!coordinators.ok()) return coordinators.status();
  return std::shared_ptr<PoolClient>(
      new PoolClient(addresses, *std::move(coordinators), *std::move(credentials), files));
}

absl::StatusOr<v1::LeaseResponse> PoolClient::RequestLease(const v1::LeaseRequest& request,
                                                           const std::string& tenant_token) {
  // The queue wait is the pool's; a failover while waiting starts the
  // request again at the new leader, within the same deadline.
  // A grant may take the leader two of its state store's timeouts (5 s for
  // etcd: the batch in flight, then its own) beyond the queue: a try lasts
  // longer than that, so that a lease granted late is not left behind by a
  // caller that gave up.
  const auto wait = std::chrono::seconds(request.wait_seconds());
  v1::LeaseResponse response;
  grpc::Status status = coordinators_->CallLeader(
      std::chrono::system_clock::now() + wait + std::chrono::seconds(20),
      wait + std::chrono::seconds(12),
      [&](grpc::ClientContext& c) { pool::AttachBearerToken(c, tenant_token); },
      [&](v1::Coordinator::Stub& stub, grpc::ClientContext& c) {
        return stub.Lease(&c, request, &response);
      });
  if (!status.ok()) return pool::FromGrpc(status, absl::StrCat("lease from ", address_));
  return response;
}

absl::StatusOr<int64_t> PoolClient::Renew(const std::string& lease_id, const std::string& token,
                                          const std::string& tenant_token,
                                          std::chrono::milliseconds within) {
  v1::RenewRequest request;
  request.set_lease_id(lease_id);
  request.set_token(token);
  v1::RenewResponse response;
  grpc::Status status = coordinators_->CallLeader(
      std::chrono::system_clock::now() + within, kPerCoordinator,
      [&](grpc::ClientContext& c) { pool::AttachBearerToken(c, tenant_token); },
      [&](v1::Coordinator::Stub& stub, grpc::ClientContext& c) {
        return stub.Renew(&c, request, &response);
      });
  if (!status.ok()) return pool::FromGrpc(status, "Renew");
  return response.expires_unix_ms();
}

absl::Status PoolClient::Release(const std::string& lease_id, const std::string& token,
                                 const std::string& tenant_token) {
  v1::ReleaseRequest request;
  request.set_lease_id(lease_id);
  request.set_token(token);
  v1::ReleaseResponse response;
  // Short: a program exiting must not wait long for a pool that is gone
  // (which reclaims the lease at its TTL anyway).
  grpc::Status status = coordinators_->CallLeader(
      std::chrono::system_clock::now() + std::chrono::seconds(5), kPerCoordinator,
      [&](grpc::ClientContext& c) { pool::AttachBearerToken(c, tenant_token); },
      [&](v1::Coordinator::Stub& stub, grpc::ClientContext& c) {
        return stub.Release(&c, request, &response);
      });
  return pool::FromGrpc(status, "Release");
}

absl::StatusOr<std::vector<v1::LeaseInfo>> PoolClient::ListLeases(
    const std::string& tenant_token, std::chrono::milliseconds within) {
  const auto deadline = std::chrono::system_clock::now() + within;
  absl::StatusOr<v1::ListLeasesResponse> all =
      pool::ListAllLeases([&](const v1::ListLeasesRequest& request, v1::ListLeasesResponse* page) {
        grpc::Status status = coordinators_->CallLeader(
            deadline, std::min<std::chrono::milliseconds>(within, kPerCoordinator),
            [&](grpc::ClientContext& c) { pool::AttachBearerToken(c, tenant_token); },
            [&](v1::Coordinator::Stub& stub, grpc::ClientContext& c) {
              return stub.ListLeases(&c, request, page);
            });
        return pool::FromGrpc(status, absl::StrCat("list leases at ", address_));
      });
  if (!all.ok()) return all.status();
  return std::vector<v1::LeaseInfo>(all->leases().begin(), all->leases().end());
}

}  // namespace accel::client
