// What a node and its coordinator ask of each other, as interfaces, so that
// one node agent works with a coordinator in the same process (standalone
// poold) or across the network (a poold in node mode).
#ifndef ACCEL_POOL_COMMON_NODE_COORDINATION_H_
#define ACCEL_POOL_COMMON_NODE_COORDINATION_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pool/common/wire.h"

namespace accel::pool {

// Coordinator -> node: a lease ended (released, expired, revoked), so the
// node ends its session and frees its memory. Never blocks.
class LeaseListener {
 public:
  virtual ~LeaseListener() = default;
  virtual void OnLeaseEnded(const std::string& lease_id, const absl::Status& why) = 0;
  // The coordinator declared this node lost (it went silent) while its link
  // may still be up: a remote link should close, so the node registers anew.
  virtual void OnNodeLost() {}
};

// Node -> coordinator: admission of sessions and reports on them.
class LeaseAuthority {
 public:
  virtual ~LeaseAuthority() = default;
  // The lease, if `token` opens it and it is placed on `node`.
  virtual absl::StatusOr<v1::LeaseInfo> Admit(const std::string& lease_id, const std::string& token,
                                              const std::string& node) = 0;
  // What the lease's session on `node` uses and has done; whether it is
  // open. Reports on a lease placed elsewhere are ignored.
  virtual void ReportUsage(const std::string& node, const v1::LeaseUsage& usage) = 0;
  virtual void ReportSession(const std::string& node, const std::string& lease_id, bool open) = 0;
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_COMMON_NODE_COORDINATION_H_
