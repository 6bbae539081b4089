#include "pool/worker/event_track.h"

#include <algorithm>

namespace accel::pool {

uint64_t EventTrack::Dispatch() {
  absl::MutexLock lock(&mu_);
  return ++dispatched_;
}

uint64_t EventTrack::dispatched() {
  absl::MutexLock lock(&mu_);
  return dispatched_;
}

absl::Status EventTrack::Apply(uint64_t generation, const std::function<absl::Status()>& record) {
  // Held across the HAL record (a quick enqueue), so two streams' records of
  // one event take effect in the client's order.
  absl::MutexLock lock(&mu_);
  absl::Status status;
  if (record && generation > applied_) status = record();
  applied_ = std::max(applied_, generation);
  return status;
}

void EventTrack::WaitApplied(uint64_t generation) {
  absl::MutexLock lock(&mu_);
  auto reached = [this, generation]()
                     ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return applied_ >= generation; };
  mu_.Await(absl::Condition(&reached));
}

bool EventTrack::AllApplied() {
  absl::MutexLock lock(&mu_);
  return applied_ >= dispatched_;
}

}  // namespace accel::pool
