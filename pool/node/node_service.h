// The Node gRPC service: one Session stream per lease.
#ifndef ACCEL_POOL_NODE_NODE_SERVICE_H_
#define ACCEL_POOL_NODE_NODE_SERVICE_H_

#include "pool/common/wire.h"
#include "pool/node/node_agent.h"

namespace accel::pool {

class NodeService final : public v1::Node::Service {
 public:
  explicit NodeService(NodeAgent& agent) : agent_(agent) {}

  grpc::Status Session(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::SessionResponse, v1::SessionRequest>* stream) override;

 private:
  NodeAgent& agent_;
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_NODE_NODE_SERVICE_H_
