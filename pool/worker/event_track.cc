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
  absl::Status status;
  std::vector<SerialExecutor::Waker> wake;
  {
    absl::MutexLock lock(&mu_);
    if (record && generation > applied_) status = record();
    applied_ = std::max(applied_, generation);
    wake = waiters_.TakeReached(applied_);
  }
  for (const SerialExecutor::Waker& w : wake) w.Wake();
  return status;
}

bool EventTrack::NotifyWhenApplied(uint64_t generation, SerialExecutor::Waker waker) {
  absl::MutexLock lock(&mu_);
  if (applied_ >= generation) return false;
  waiters_.Add(generation, std::move(waker));
  return true;
}

bool EventTrack::AllApplied() {
  absl::MutexLock lock(&mu_);
  return applied_ >= dispatched_;
}

}  // namespace accel::pool
