// Where a session's responses go: the client's gRPC stream (on the node),
// or the link to the node (in a session worker).
#ifndef ACCEL_POOL_COMMON_SESSION_LINK_H_
#define ACCEL_POOL_COMMON_SESSION_LINK_H_

#include "pool/common/wire.h"

namespace accel::pool {

// Safe from any thread, and harmless once the connection is gone.
class SessionLink {
 public:
  virtual ~SessionLink() = default;
  // Writes a response in order; may wait for the client to read.
  virtual void Send(const v1::SessionResponse& response) = 0;
  // Writes only if that needs no waiting; otherwise drops the response.
  virtual void TrySend(const v1::SessionResponse& response) = 0;
  // Breaks the connection, which ends the session.
  virtual void Cut() = 0;
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_COMMON_SESSION_LINK_H_
