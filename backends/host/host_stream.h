// Streams of the host backend: a worker thread per stream runs queued
// operations in order, asynchronously to the caller. The first failure is
// sticky: later operations are skipped and every later call reports it.
#ifndef ACCEL_BACKENDS_HOST_HOST_STREAM_H_
#define ACCEL_BACKENDS_HOST_HOST_STREAM_H_

#include <deque>
#include <functional>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "accel/hal/plugin/backend_interface.h"
#include "thread_pool.h"

namespace accel::host {

class HostStream : public hal::plugin::StreamImpl {
 public:
  explicit HostStream(ThreadPool& pool);
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
  struct Operation {
    std::function<absl::Status()> run;
    // Event records still run after a failure, so no waiter hangs on a
    // failed stream; everything else is skipped.
    bool runs_after_failure = false;
  };
  // Queues an operation; returns the sticky error instead if there is one.
  absl::Status Enqueue(std::function<absl::Status()> run, bool runs_after_failure = false);
  void WorkerLoop();

  ThreadPool& pool_;
  absl::Mutex mu_;
  std::deque<Operation> queue_ ABSL_GUARDED_BY(mu_);
  bool running_ ABSL_GUARDED_BY(mu_) = false;  // an operation is executing
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status sticky_ ABSL_GUARDED_BY(mu_);
  std::thread worker_;
};

}  // namespace accel::host

#endif  // ACCEL_BACKENDS_HOST_HOST_STREAM_H_
