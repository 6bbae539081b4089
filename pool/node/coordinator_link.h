// A node-mode poold's link to its pool's coordinator: registers the node
// (again after every reconnect, naming the sessions it still holds), sends
// heartbeats and session reports, passes the ends of leases to the node
// agent, and admits sessions by asking the coordinator.
//
// While the coordinator is unreachable, open sessions keep working; new
// sessions are refused with UNAVAILABLE until the link is back. Given a
// highly available pool's coordinators, the link follows whichever leads
// (pool/common/coordinator_list.h).
#ifndef ACCEL_POOL_NODE_COORDINATOR_LINK_H_
#define ACCEL_POOL_NODE_COORDINATOR_LINK_H_

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "pool/common/coordinator_list.h"
#include "pool/common/node_coordination.h"
#include "pool/common/wire.h"

namespace accel::pool {

class CoordinatorLink final : public LeaseAuthority {
 public:
  struct Options {
    std::string coordinator;  // host:port, or host:port,host:port,... (HA)
    std::string join_token;
    // How the link reaches the coordinator: TLS with the node's certificate
    // (which names the node), or plaintext.
    std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
    // Waits between reconnection attempts grow from the first to the last.
    std::chrono::milliseconds min_retry{100};
    std::chrono::milliseconds max_retry{2000};
  };
  // What the node registers, asked again on every (re)registration.
  struct NodeView {
    std::function<v1::NodeHello()> hello;  // name, address, labels, devices, open leases
    LeaseListener* listener = nullptr;     // told of leases that end
  };

  // INVALID_ARGUMENT for a bad coordinator address.
  static absl::StatusOr<std::unique_ptr<CoordinatorLink>> Create(Options options);
  ~CoordinatorLink() override;  // Stop()s
  CoordinatorLink(const CoordinatorLink&) = delete;
  CoordinatorLink& operator=(const CoordinatorLink&) = delete;

  // Starts linking; `node` must stay valid until Stop(). Returns once the
  // first registration is answered or `wait` passes: OK when registered,
  // UNAVAILABLE when the coordinator did not answer in time (the link keeps
  // trying), or the coordinator's refusal (wrong join token, bad hello),
  // after which the link has stopped.
  absl::Status Start(NodeView node, std::chrono::milliseconds wait);
  // Leaves the pool: closes the link and stops its threads.
  void Stop();

  // LeaseAuthority.
  absl::StatusOr<v1::LeaseInfo> Admit(const std::string& lease_id, const std::string& token,
                                      const std::string& node) override;
  void ReportUsage(const std::string& node, const v1::LeaseUsage& usage) override;
  void ReportSession(const std::string& node, const std::string& lease_id, bool open) override;

 private:
  void LinkLoop();
  void WriterLoop();
  // One registration's life: returns how it ended; `registered` tells
  // whether the coordinator accepted the node first.
  absl::Status RunLink(bool& registered);
  CoordinatorLink(Options options, std::shared_ptr<CoordinatorList> coordinators)
      : options_(std::move(options)), coordinators_(std::move(coordinators)) {}

  const Options options_;
  const std::shared_ptr<CoordinatorList> coordinators_;
  NodeView node_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool answered_ ABSL_GUARDED_BY(mu_) = false;  // the first registration's outcome is known
  absl::Status first_outcome_ ABSL_GUARDED_BY(mu_);
  // The live registration, while there is one.
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  grpc::ClientReaderWriter<v1::NodeLinkRequest, v1::NodeLinkResponse>* stream_
      ABSL_GUARDED_BY(mu_) = nullptr;
  std::string node_name_ ABSL_GUARDED_BY(mu_);
  std::string registered_at_ ABSL_GUARDED_BY(mu_);  // the coordinator that leads
  std::string node_secret_ ABSL_GUARDED_BY(mu_);
  std::chrono::milliseconds heartbeat_ ABSL_GUARDED_BY(mu_){1000};
  // Reports not yet sent: the latest usage per lease, session changes in order.
  std::map<std::string, v1::LeaseUsage> usage_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::SessionState> sessions_ ABSL_GUARDED_BY(mu_);

  absl::Mutex write_mu_;  // one writer on the stream at a time
  std::thread link_thread_;
  std::thread writer_thread_;
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_NODE_COORDINATOR_LINK_H_
