// Streams of the host backend: each is a serial executor on the backend's
// shared stream threads, running queued operations in order, asynchronously
// to the caller; however many streams there are, the threads stay few. An
// operation that fails makes the rest of the queue skip; the stream reports
// the failure as a stream failure, and the HAL keeps it sticky.
#ifndef ACCEL_BACKENDS_HOST_HOST_STREAM_H_
#define ACCEL_BACKENDS_HOST_HOST_STREAM_H_

#include <atomic>
#include <functional>

#include "absl/synchronization/mutex.h"
#include "accel/hal/plugin/backend_interface.h"
#include "common/serial_executor.h"
#include "thread_pool.h"

namespace accel::host {

class HostStream : public hal::plugin::StreamImpl {
 public:
  // `pool` runs the blocks of launches; `threads` run the streams.
  HostStream(ThreadPool& pool, ExecutorThreads& threads);
  ~HostStream() override;

  absl::Status CopyHostToDevice(const void* src, hal::plugin::BufferImpl& dst, uint64_t dst_offset,
                                uint64_t size) override;
  absl::Status CopyDeviceToHost(hal::plugin::BufferImpl& src, uint64_t src_offset, void* dst,
                                uint64_t size) override;
  absl::Status CopyDeviceToDevice(hal::plugin::BufferImpl& src, uint64_t src_offset,
                                  hal::plugin::BufferImpl& dst, uint64_t dst_offset,
                                  uint64_t size) override;
  absl::Status Fill(hal::plugin::BufferImpl& dst, uint64_t offset, uint64_t size, uint32_t pattern,
                    uint32_t pattern_size) override;
  absl::Status Launch(hal::plugin::KernelImpl& kernel, const AccelLaunchConfig& config,
                      absl::Span<const hal::plugin::LaunchArg> args) override;
  absl::Status RecordEvent(hal::plugin::EventImpl& event) override;
  absl::Status WaitEvent(hal::plugin::EventImpl& event) override;
  absl::Status Synchronize() override;

 private:
  // Queues an operation, or reports the stream's failure instead. Event
  // records (`runs_after_failure`) still run after a failure, so no waiter
  // hangs on a failed stream; everything else is skipped.
  absl::Status Enqueue(std::function<absl::Status()> run, bool runs_after_failure = false);
  // The failure so far, as a stream failure (OK: none).
  absl::Status Failure();

  ThreadPool& pool_;
  absl::Mutex mu_;
  absl::Status failure_ ABSL_GUARDED_BY(mu_);  // the first failed operation's
  std::atomic<bool> failed_{false};            // failure_ is set: the fast check
  SerialExecutor executor_;                    // declared last: drained first
};

}  // namespace accel::host

#endif  // ACCEL_BACKENDS_HOST_HOST_STREAM_H_
