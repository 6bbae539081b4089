// The Node gRPC service: one Session stream per lease.
#ifndef ACCEL_POOL_NODE_NODE_SERVICE_H_
#define ACCEL_POOL_NODE_NODE_SERVICE_H_

#include <chrono>
#include <map>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "pool/common/wire.h"
#include "pool/node/node_agent.h"

namespace accel::pool {

class NodeService final : public v1::Node::Service {
 public:
  // A session stream whose first message has not come within
  // `first_message_timeout` is cut: a silent client must not hold one of
  // the server's threads for as long as it likes.
  explicit NodeService(NodeAgent& agent,
                       std::chrono::milliseconds first_message_timeout = std::chrono::seconds(10));
  ~NodeService() override;

  grpc::Status Session(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::SessionResponse, v1::SessionRequest>* stream) override;

 private:
  void CutSilentStreams();

  NodeAgent& agent_;
  const std::chrono::milliseconds first_message_timeout_;
  absl::Mutex mu_;
  // Streams waiting for their first message, and when they are cut.
  std::map<grpc::ServerContext*, std::chrono::steady_clock::time_point> silent_
      ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread watch_;
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_NODE_NODE_SERVICE_H_
