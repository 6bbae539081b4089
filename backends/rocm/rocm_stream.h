// Streams of a HIP device: a non-blocking hipStream_t (it must not serialize
// with the legacy null stream, which other libraries in the process may use)
// that reports failures of its work, seen at enqueue or at synchronize, as
// stream failures; the HAL keeps the first one sticky.
#ifndef ACCEL_BACKENDS_ROCM_ROCM_STREAM_H_
#define ACCEL_BACKENDS_ROCM_ROCM_STREAM_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "accel/hal/plugin/backend_interface.h"
#include "rocm_device.h"

namespace accel::rocm {

class RocmStream : public hal::plugin::StreamImpl {
 public:
  static absl::StatusOr<std::unique_ptr<RocmStream>> Create(const RocmDevice& device);
  // Waits for queued work, then destroys the HIP stream.
  ~RocmStream() override;
  RocmStream(const RocmStream&) = delete;
  RocmStream& operator=(const RocmStream&) = delete;

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
  RocmStream(const RocmDevice& device, hipStream_t stream) : device_(device), stream_(stream) {}
  // Runs `enqueue` (a HIP call on stream_); returns its error as
  // HipStatus(`call`), through Fail().
  template <typename F>
  absl::Status Submit(absl::string_view call, F&& enqueue);
  // The memmove of CopyDeviceToDevice for ranges that overlap: HIP leaves an
  // overlapping hipMemcpyDtoDAsync undefined, so it goes through a temporary.
  absl::Status CopyOverlapping(hipDeviceptr_t to, hipDeviceptr_t from, uint64_t size);
  // Frees `temporaries` (from temporaries_), which the stream has finished with.
  void FreeTemporaries(const std::vector<void*>& temporaries);
  // Marks `status` a stream failure if it says the device or earlier work
  // failed (rather than that this request was wrong), naming the kernels
  // that may have caused it; returns what to report.
  absl::Status Fail(absl::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const RocmDevice& device_;
  hipStream_t stream_;
  absl::Mutex mu_;
  // Kernels launched since the last successful synchronize: HIP's error does
  // not say which kernel failed, so the report lists the suspects.
  std::vector<std::string> recent_kernels_ ABSL_GUARDED_BY(mu_);
  // Device memory that overlapping copies staged through, freed once the
  // stream has finished with it: at the next Synchronize, in the destructor,
  // or when an allocation for another one runs out of memory.
  std::vector<void*> temporaries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace accel::rocm

#endif  // ACCEL_BACKENDS_ROCM_ROCM_STREAM_H_
