// Launch turns, seen from inside a session worker. Where a device is shared
// with other sessions (fractional leases), or the node watches launches for
// their running time, a launch asks the node for its turn; the node, which
// sees every session on the device, answers in weighted-fair order
// (pool/node/compute_shares.h) and times the turn (the kernel watchdog).
#ifndef ACCEL_POOL_WORKER_LAUNCH_TURNS_H_
#define ACCEL_POOL_WORKER_LAUNCH_TURNS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "pool/common/frame_socket.h"
#include "pool/common/worker_wire.h"

namespace accel::pool {

class LaunchTurns {
 public:
  virtual ~LaunchTurns() = default;
  // Runs `launch` of `kernel` once it is the session's turn: as it is when
  // the node says so, or `timed`, to completion, returning the device time
  // in microseconds that the session is charged.
  virtual absl::Status Run(const std::string& kernel, const std::function<absl::Status()>& launch,
                           const std::function<absl::StatusOr<double>()>& timed) = 0;
};

// The worker's turns, asked of the node over the control link. One per
// worker; Device(i) is the view a stream on lease device i launches through.
class NodeTurns {
 public:
  explicit NodeTurns(FrameSocket& control) : control_(control) {}
  // The control reader hands every grant here.
  void Grant(const worker::v1::TurnGrant& grant);
  // The node is gone: waiting and later launches fail.
  void Close();
  std::unique_ptr<LaunchTurns> Device(uint32_t device);

 private:
  class DeviceTurns;
  absl::Status Run(uint32_t device, const std::string& kernel,
                   const std::function<absl::Status()>& launch,
                   const std::function<absl::StatusOr<double>()>& timed);

  FrameSocket& control_;
  absl::Mutex mu_;
  uint64_t next_turn_ ABSL_GUARDED_BY(mu_) = 1;
  // Turns asked for; the value is set when granted (1: as is, 2: timed).
  std::map<uint64_t, int> pending_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_WORKER_LAUNCH_TURNS_H_
