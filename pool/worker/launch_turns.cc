#include "pool/worker/launch_turns.h"

namespace accel::pool {

class NodeTurns::DeviceTurns : public LaunchTurns {
 public:
  DeviceTurns(NodeTurns& turns, uint32_t device) : turns_(turns), device_(device) {}
  absl::Status Run(const std::string& kernel, const std::function<absl::Status()>& launch,
                   const std::function<absl::StatusOr<double>()>& timed) override {
    return turns_.Run(device_, kernel, launch, timed);
  }

 private:
  NodeTurns& turns_;
  const uint32_t device_;
};

std::unique_ptr<LaunchTurns> NodeTurns::Device(uint32_t device) {
  return std::make_unique<DeviceTurns>(*this, device);
}

void NodeTurns::Grant(const worker::v1::TurnGrant& grant) {
  absl::MutexLock lock(&mu_);
  auto it = pending_.find(grant.turn());
  if (it != pending_.end() && it->second == 0) it->second = grant.timed() ? 2 : 1;
}

void NodeTurns::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

absl::Status NodeTurns::Run(uint32_t device, const std::string& kernel,
                            const std::function<absl::Status()>& launch,
                            const std::function<absl::StatusOr<double>()>& timed) {
  uint64_t turn = 0;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return absl::UnavailableError("the node ended the session");
    turn = next_turn_++;
    pending_[turn] = 0;
  }
  worker::v1::WorkerReport ask;
  ask.mutable_turn()->set_turn(turn);
  ask.mutable_turn()->set_device(device);
  ask.mutable_turn()->set_kernel(kernel);
  absl::Status sent = control_.Write(ask);
  int granted = 0;
  {
    absl::MutexLock lock(&mu_);
    auto answered = [this, turn]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return closed_ || pending_.at(turn) != 0;
    };
    if (sent.ok()) mu_.Await(absl::Condition(&answered));
    granted = pending_.at(turn);
    pending_.erase(turn);
  }
  if (granted == 0) return absl::UnavailableError("the node ended the session");
  if (granted == 1) return launch();
  absl::StatusOr<double> us = timed();
  worker::v1::WorkerReport done;
  done.mutable_done()->set_turn(turn);
  done.mutable_done()->set_device_us(us.value_or(0));
  done.mutable_done()->set_failed(!us.ok());
  control_.Write(done).IgnoreError();  // a node that is gone kills this worker
  return us.status();
}

}  // namespace accel::pool
