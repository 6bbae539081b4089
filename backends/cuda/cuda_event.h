// Events: a CUDA event with timing enabled, so event_elapsed_ms works on any
// pair recorded on the device. cuEventDestroy on an event whose work is still
// pending is safe by the driver's contract (resources go when it completes),
// so destroying early needs nothing more.
#ifndef ACCEL_BACKENDS_CUDA_CUDA_EVENT_H_
#define ACCEL_BACKENDS_CUDA_CUDA_EVENT_H_

#include <atomic>
#include <memory>

#include "accel/hal/plugin/backend_interface.h"
#include "cuda_driver.h"

namespace accel::cuda {

class CudaDevice;

class CudaEvent : public hal::plugin::EventImpl {
 public:
  static absl::StatusOr<std::unique_ptr<CudaEvent>> Create(CudaDevice& device);
  ~CudaEvent() override;

  absl::Status Synchronize() override;
  absl::StatusOr<bool> IsComplete() override;
  absl::StatusOr<float> ElapsedMillisecondsSince(hal::plugin::EventImpl& start) override;

  CUevent event() const { return event_; }
  // Called by a stream once cuEventRecord succeeded. CUDA reports timing of
  // never-recorded events as INVALID_HANDLE; the HAL wants
  // FAILED_PRECONDITION, so the event remembers.
  void MarkRecorded() { recorded_.store(true, std::memory_order_release); }

 private:
  CudaEvent(CudaDevice& device, CUevent event) : device_(device), event_(event) {}

  CudaDevice& device_;
  CUevent event_;
  std::atomic<bool> recorded_{false};
};

}  // namespace accel::cuda

#endif  // ACCEL_BACKENDS_CUDA_CUDA_EVENT_H_
