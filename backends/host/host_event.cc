#include "host_event.h"

namespace accel::host {

uint64_t EventCore::BeginRecord() {
  absl::MutexLock lock(&mu_);
  return ++recorded_;
}

void EventCore::Complete(uint64_t generation) {
  std::vector<SerialExecutor::Waker> wake;
  {
    absl::MutexLock lock(&mu_);
    if (generation > completed_) {
      completed_ = generation;
      time_ = std::chrono::steady_clock::now();
    }
    wake = waiters_.TakeReached(completed_);
  }
  for (const SerialExecutor::Waker& w : wake) w.Wake();
}

bool EventCore::NotifyWhenComplete(uint64_t generation, SerialExecutor::Waker waker) {
  absl::MutexLock lock(&mu_);
  if (completed_ >= generation) return false;
  waiters_.Add(generation, std::move(waker));
  return true;
}

void EventCore::WaitFor(uint64_t generation) {
  absl::MutexLock lock(&mu_);
  auto reached = [this, generation]()
                     ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return completed_ >= generation; };
  mu_.Await(absl::Condition(&reached));
}

uint64_t EventCore::last_recorded() {
  absl::MutexLock lock(&mu_);
  return recorded_;
}

bool EventCore::IsComplete() {
  absl::MutexLock lock(&mu_);
  return completed_ >= recorded_;
}

bool EventCore::CompletedAt(std::chrono::steady_clock::time_point* time) {
  absl::MutexLock lock(&mu_);
  if (recorded_ == 0 || completed_ < recorded_) return false;
  *time = time_;
  return true;
}

absl::Status HostEvent::Synchronize() {
  core_->WaitFor(core_->last_recorded());
  return absl::OkStatus();
}

absl::StatusOr<bool> HostEvent::IsComplete() { return core_->IsComplete(); }

absl::StatusOr<float> HostEvent::ElapsedMillisecondsSince(hal::plugin::EventImpl& start) {
  std::chrono::steady_clock::time_point begin, end;
  if (!static_cast<HostEvent&>(start).core_->CompletedAt(&begin) || !core_->CompletedAt(&end)) {
    return absl::FailedPreconditionError("elapsed time needs both events recorded and complete");
  }
  return std::chrono::duration<float, std::milli>(end - begin).count();
}

}  // namespace accel::host
