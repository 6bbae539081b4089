// The order of a session's event records, which stream workers apply out of
// step with the session's reader and with each other.
#ifndef ACCEL_POOL_WORKER_EVENT_TRACK_H_
#define ACCEL_POOL_WORKER_EVENT_TRACK_H_

#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/serial_executor.h"

namespace accel::pool {

// Event records are applied by stream workers, out of step with the reader
// and with each other. This keeps the client's order: a wait, query or
// synchronization sees every record the client sent before it.
class EventTrack {
 public:
  // Reader: a record was queued; returns its generation.
  uint64_t Dispatch();
  uint64_t dispatched();
  // Worker: applies record `generation` with `record` unless a newer record
  // was applied already (records on different streams can land out of
  // order), then marks it applied; `record` is null for a skipped record.
  absl::Status Apply(uint64_t generation, const std::function<absl::Status()>& record);
  // Returns false when record `generation` has been applied; else true, and
  // wakes `waker` once it has (an executor waiting without holding a thread).
  bool NotifyWhenApplied(uint64_t generation, SerialExecutor::Waker waker);
  bool AllApplied();

 private:
  absl::Mutex mu_;
  uint64_t dispatched_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t applied_ ABSL_GUARDED_BY(mu_) = 0;
  GenerationWaiters waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_WORKER_EVENT_TRACK_H_
