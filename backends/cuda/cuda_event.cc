#include "cuda_event.h"

#include "cuda_context.h"
#include "cuda_device.h"
#include "cuda_errors.h"

namespace accel::cuda {

absl::StatusOr<std::unique_ptr<CudaEvent>> CudaEvent::Create(CudaDevice& device) {
  const Driver& driver = device.driver();
  ContextGuard guard(driver, device.context());
  if (!guard.ok()) return guard.status();
  CUevent event = nullptr;
  if (absl::Status s =
          ToStatus(driver, driver.cuEventCreate(&event, CU_EVENT_DEFAULT), "cuEventCreate");
      !s.ok()) {
    return s;
  }
  return std::unique_ptr<CudaEvent>(new CudaEvent(device, event));
}

CudaEvent::~CudaEvent() {
  ContextGuard guard(device_.driver(), device_.context());
  // event_destroy cannot report errors; a failure leaks one event handle of
  // a context that is already broken.
  if (guard.ok()) device_.driver().cuEventDestroy(event_);
}

absl::Status CudaEvent::Synchronize() {
  const Driver& driver = device_.driver();
  ContextGuard guard(driver, device_.context());
  if (!guard.ok()) return guard.status();
  // A never-recorded event completes at once, as the HAL specifies.
  return ToStatus(driver, driver.cuEventSynchronize(event_), "cuEventSynchronize");
}

absl::StatusOr<bool> CudaEvent::IsComplete() {
  const Driver& driver = device_.driver();
  ContextGuard guard(driver, device_.context());
  if (!guard.ok()) return guard.status();
  CUresult r = driver.cuEventQuery(event_);
  if (r == CUDA_SUCCESS) return true;
  if (r == CUDA_ERROR_NOT_READY) return false;
  return ToStatus(driver, r, "cuEventQuery");
}

absl::StatusOr<float> CudaEvent::ElapsedMillisecondsSince(hal::plugin::EventImpl& start_impl) {
  auto& start = static_cast<CudaEvent&>(start_impl);
  if (!start.recorded_.load(std::memory_order_acquire) ||
      !recorded_.load(std::memory_order_acquire)) {
    return absl::FailedPreconditionError("elapsed time needs both events recorded and complete");
  }
  const Driver& driver = device_.driver();
  ContextGuard guard(driver, device_.context());
  if (!guard.ok()) return guard.status();
  float ms = 0;
  CUresult r = driver.cuEventElapsedTime(&ms, start.event_, event_);
  if (r == CUDA_ERROR_NOT_READY) {
    return absl::FailedPreconditionError(
        "elapsed time needs both events complete: cuEventElapsedTime returned "
        "CUDA_ERROR_NOT_READY (600)");
  }
  if (r != CUDA_SUCCESS) return ToStatus(driver, r, "cuEventElapsedTime");
  return ms;
}

}  // namespace accel::cuda
