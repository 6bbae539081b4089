#include "pool/worker/stream_worker.h"

#include "accel/hal/device.h"

namespace accel::pool {
namespace {
// Host bytes held for queued uploads before the worker waits for the device
// to consume them: bounds a node's memory under a stream of uploads.
constexpr uint64_t kMaxRetainedBytes = 16ull << 20;
// Bytes of queued operations (data and a nominal cost each) ahead of the
// device before the session's reader waits.
constexpr uint64_t kMaxQueuedBytes = 16ull << 20;
}  // namespace

StreamWorker::StreamWorker(hal::Stream stream, LaunchTurns* turns, ExecutorThreads& threads)
    : stream_(std::move(stream)), turns_(turns), executor_(threads) {}

StreamWorker::~StreamWorker() {
  executor_.Drain();
  // Let queued device work finish before the bytes it reads go away. The
  // session is gone, so an error here has nobody left to be reported to.
  Synchronize().IgnoreError();
}

void StreamWorker::Admit(uint64_t bytes) {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](StreamWorker* w)
           ABSL_EXCLUSIVE_LOCKS_REQUIRED(w->mu_) { return w->queued_bytes_ < kMaxQueuedBytes; },
      this));
  queued_bytes_ += bytes;
}

void StreamWorker::Release(uint64_t bytes) {
  absl::MutexLock lock(&mu_);
  queued_bytes_ -= bytes;
}

void StreamWorker::Run(const Operation& op, bool uses_device) {
  if (uses_device) {
    absl::MutexLock lock(&mu_);
    device_idle_ = false;  // until the operation synchronizes
  }
  absl::Status status = op(*this, sticky_);
  if (!status.ok() && sticky_.ok()) sticky_ = status;
  if (retained_bytes_ > kMaxRetainedBytes) {
    absl::Status synced = Synchronize();
    if (!synced.ok() && sticky_.ok()) sticky_ = synced;
  }
}

void StreamWorker::Enqueue(Operation op, uint64_t bytes) {
  Admit(bytes);
  executor_.PostResumable([this, op = std::move(op), bytes] {
    Run(op);
    Release(bytes);
    return SerialExecutor::Step::kDone;
  });
}

void StreamWorker::EnqueueAfterRecord(std::shared_ptr<EventTrack> track, uint64_t generation,
                                      Operation op, uint64_t bytes) {
  Admit(bytes);
  executor_.PostResumable([this, track = std::move(track), generation, op = std::move(op), bytes,
                           waker = executor_.waker()] {
    if (track->NotifyWhenApplied(generation, waker)) return SerialExecutor::Step::kWaiting;
    Run(op);
    Release(bytes);
    return SerialExecutor::Step::kDone;
  });
}

bool StreamWorker::RunIfIdle(const Operation& op, bool uses_device) {
  {
    absl::MutexLock lock(&mu_);
    if (!device_idle_) return false;
  }
  return executor_.RunIfIdle([this, &op, uses_device] { Run(op, uses_device); });
}

void StreamWorker::Retain(std::shared_ptr<const void> bytes, uint64_t size) {
  // Called from operations, on the executor.
  retained_bytes_ += size;
  retained_.push_back(std::move(bytes));
}

absl::StatusOr<double> StreamWorker::RunTimed(const std::function<absl::Status()>& launch) {
  if (!timing_start_.valid()) {
    absl::StatusOr<hal::Event> start = stream_.device().CreateEvent();
    if (!start.ok()) return start.status();
    absl::StatusOr<hal::Event> end = stream_.device().CreateEvent();
    if (!end.ok()) return end.status();
    timing_start_ = *std::move(start);
    timing_end_ = *std::move(end);
  }
  if (absl::Status s = stream_.Record(timing_start_); !s.ok()) return s;
  if (absl::Status s = launch(); !s.ok()) return s;
  if (absl::Status s = stream_.Record(timing_end_); !s.ok()) return s;
  if (absl::Status s = Synchronize(); !s.ok()) return s;
  absl::StatusOr<float> ms = hal::Event::ElapsedMilliseconds(timing_start_, timing_end_);
  if (!ms.ok()) return ms.status();
  return *ms * 1000.0;
}

absl::Status StreamWorker::Synchronize() {
  absl::Status status = stream_.Synchronize();
  retained_.clear();
  retained_bytes_ = 0;
  absl::MutexLock lock(&mu_);
  device_idle_ = true;
  return status;
}

}  // namespace accel::pool
