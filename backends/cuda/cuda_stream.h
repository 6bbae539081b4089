// Streams: a non-blocking CUDA stream each (no implicit ordering with the
// legacy default stream, which an application's own CUDA code may use).
//
// Failures: CUDA makes kernel faults sticky for the whole context. A stream
// reports such an error, and any asynchronous failure its Synchronize finds,
// as a stream failure; the HAL keeps it sticky. Other errors (a refused
// argument) fail only their call.
#ifndef ACCEL_BACKENDS_CUDA_CUDA_STREAM_H_
#define ACCEL_BACKENDS_CUDA_CUDA_STREAM_H_

#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "accel/hal/plugin/backend_interface.h"
#include "cuda_driver.h"

namespace accel::cuda {

class CudaDevice;

class CudaStream : public hal::plugin::StreamImpl {
 public:
  static absl::StatusOr<std::unique_ptr<CudaStream>> Create(CudaDevice& device);
  // Waits for the queued work, as the HAL requires.
  ~CudaStream() override;

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

  CUstream stream() const { return stream_; }

 private:
  CudaStream(CudaDevice& device, CUstream stream) : device_(device), stream_(stream) {}

  // Converts the result of enqueueing `call`. Errors that break the context
  // are stream failures; others (a bad argument) fail just this call.
  absl::Status Check(CUresult result, const char* call);
  // A fill whose destination is not aligned to the pattern size, which
  // cuMemsetD16/D32 refuse: the pattern is written once, then doubled with
  // device-to-device copies.
  absl::Status FillUnaligned(CUdeviceptr dst, uint64_t size, uint32_t pattern,
                             uint32_t pattern_size);

  CudaDevice& device_;
  CUstream stream_;
  absl::Mutex mu_;
  // The last kernel queued, named in the message of an asynchronous failure
  // (CUDA's errors do not say which launch failed).
  std::string last_kernel_ ABSL_GUARDED_BY(mu_);
};

}  // namespace accel::cuda

#endif  // ACCEL_BACKENDS_CUDA_CUDA_STREAM_H_
