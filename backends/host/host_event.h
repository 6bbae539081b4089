// Events of the host backend: a record generation counter plus the time the
// stream reached the last record.
#ifndef ACCEL_BACKENDS_HOST_HOST_EVENT_H_
#define ACCEL_BACKENDS_HOST_HOST_EVENT_H_

#include <chrono>
#include <cstdint>
#include <memory>

#include "absl/synchronization/mutex.h"
#include "accel/hal/plugin/backend_interface.h"
#include "common/serial_executor.h"

namespace accel::host {

// Shared by the event handle and the queued operations that signal or wait
// for it, so destroying the handle early is safe.
class EventCore {
 public:
  // Called when a record is queued; returns the generation to signal.
  uint64_t BeginRecord();
  // Called by the stream when it reaches that record.
  void Complete(uint64_t generation);
  // Blocks until `generation` has completed.
  void WaitFor(uint64_t generation);
  // Returns false when `generation` has completed; else true, and wakes
  // `waker` once it has (a stream waiting without holding a thread).
  bool NotifyWhenComplete(uint64_t generation, SerialExecutor::Waker waker);
  // The generation of the last queued record (0: never recorded).
  uint64_t last_recorded();
  bool IsComplete();
  // Completion time of the last record, if it has completed.
  bool CompletedAt(std::chrono::steady_clock::time_point* time);

 private:
  absl::Mutex mu_;
  uint64_t recorded_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t completed_ ABSL_GUARDED_BY(mu_) = 0;
  std::chrono::steady_clock::time_point time_ ABSL_GUARDED_BY(mu_);
  GenerationWaiters waiters_ ABSL_GUARDED_BY(mu_);
};

class HostEvent : public hal::plugin::EventImpl {
 public:
  HostEvent() : core_(std::make_shared<EventCore>()) {}
  const std::shared_ptr<EventCore>& core() const { return core_; }

  absl::Status Synchronize() override;
  absl::StatusOr<bool> IsComplete() override;
  absl::StatusOr<float> ElapsedMillisecondsSince(hal::plugin::EventImpl& start) override;

 private:
  std::shared_ptr<EventCore> core_;
};

}  // namespace accel::host

#endif  // ACCEL_BACKENDS_HOST_HOST_EVENT_H_
