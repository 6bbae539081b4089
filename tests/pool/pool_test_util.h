// Shared helpers of the pool tests: the coordinator's listings and bounded
// polling.
#ifndef ACCEL_TESTS_POOL_POOL_TEST_UTIL_H_
#define ACCEL_TESTS_POOL_POOL_TEST_UTIL_H_

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "pool/common/admin_socket_path.h"
#include "pool/common/lease_pages.h"
#include "pool/common/status_convert.h"
#include "pool/common/wire.h"

namespace accel::testing {

namespace v1 = ::accelpool::v1;

inline std::unique_ptr<v1::Coordinator::Stub> CoordinatorAt(const std::string& address) {
  return v1::Coordinator::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

// The coordinator at 127.0.0.1:PORT as an operator of its host: through the
// admin socket poold serves for that port (as root or poold's user).
inline std::unique_ptr<v1::Coordinator::Stub> OperatorAt(const std::string& address) {
  const std::string socket =
      pool::FindAdminSocket(std::stoi(address.substr(address.rfind(':') + 1)));
  return CoordinatorAt(socket.empty() ? address : "unix:" + socket);
}

// One of the coordinator's listings, as its host's operator sees it (empty
// if it does not answer in 5 s).
template <typename Response, typename Request>
Response List(const std::string& address,
              grpc::Status (v1::Coordinator::Stub::*rpc)(grpc::ClientContext*, const Request&,
                                                         Response*)) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  Response response;
  (*OperatorAt(address).*rpc)(&context, Request(), &response);
  return response;
}

// Every page of them (empty if a call does not answer in 5 s).
inline v1::ListLeasesResponse Leases(const std::string& address) {
  std::unique_ptr<v1::Coordinator::Stub> stub = OperatorAt(address);
  absl::StatusOr<v1::ListLeasesResponse> all =
      pool::ListAllLeases([&](const v1::ListLeasesRequest& request, v1::ListLeasesResponse* page) {
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
        return pool::FromGrpc(stub->ListLeases(&context, request, page), "ListLeases");
      });
  return all.ok() ? *std::move(all) : v1::ListLeasesResponse();
}

inline v1::ListDevicesResponse Devices(const std::string& address) {
  return List<v1::ListDevicesResponse>(address, &v1::Coordinator::Stub::ListDevices);
}

inline std::optional<v1::LeaseInfo> FindLease(const std::string& address,
                                              const std::string& lease_id) {
  const v1::ListLeasesResponse leases = Leases(address);
  for (const v1::LeaseInfo& l : leases.leases()) {
    if (l.lease_id() == lease_id) return l;
  }
  return std::nullopt;
}

inline bool HasLease(const std::string& address, const std::string& lease_id) {
  return FindLease(address, lease_id).has_value();
}

// No device of the pool is leased or has memory in use.
inline bool DevicesIdle(const std::string& address) {
  const v1::ListDevicesResponse devices = Devices(address);
  for (const v1::DeviceInfo& d : devices.devices()) {
    if (d.leases() != 0 || d.used_memory() != 0) return false;
  }
  return true;
}

inline v1::ListNodesResponse Nodes(const std::string& address) {
  return List<v1::ListNodesResponse>(address, &v1::Coordinator::Stub::ListNodes);
}

// The named node's state in the listing ("ready", "lost", ...), or "absent".
inline std::string NodeState(const std::string& address, const std::string& node) {
  v1::ListNodesResponse nodes = Nodes(address);
  for (const v1::NodeInfo& n : nodes.nodes()) {
    if (n.name() == node) return n.state();
  }
  return "absent";
}

// Polls `condition` every 50 ms for at most `seconds`.
inline bool Eventually(const std::function<bool()>& condition, int seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return condition();
}

}  // namespace accel::testing

#endif  // ACCEL_TESTS_POOL_POOL_TEST_UTIL_H_
