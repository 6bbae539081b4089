// Makes a device's primary context current for the duration of one HAL call.
//
// The HAL is called from any thread, and a CUDA context is current per
// thread, so every entry point that touches the driver opens a ContextGuard.
// It switches only when needed (cuCtxGetCurrent is a thread-local read), and
// puts back a context the application had made current itself, so the
// backend never changes what the caller's own CUDA code sees. A thread that
// had none keeps ours: the next call on that thread then costs nothing.
#ifndef ACCEL_BACKENDS_CUDA_CUDA_CONTEXT_H_
#define ACCEL_BACKENDS_CUDA_CUDA_CONTEXT_H_

#include "absl/status/status.h"
#include "cuda_driver.h"
#include "cuda_errors.h"

namespace accel::cuda {

class ContextGuard {
 public:
  ContextGuard(const Driver& driver, CUcontext context) : driver_(driver) {
    CUresult r = driver_.cuCtxGetCurrent(&previous_);
    if (r == CUDA_SUCCESS && previous_ != context) {
      r = driver_.cuCtxSetCurrent(context);
      switched_ = r == CUDA_SUCCESS;
    }
    status_ = ToStatus(driver_, r, "cuCtxSetCurrent");
  }
  ~ContextGuard() {
    // Restoring can only fail if the application's context is gone, which
    // is not this call's error to report.
    if (switched_ && previous_ != nullptr) driver_.cuCtxSetCurrent(previous_);
  }
  ContextGuard(const ContextGuard&) = delete;
  ContextGuard& operator=(const ContextGuard&) = delete;

  bool ok() const { return status_.ok(); }
  const absl::Status& status() const { return status_; }

 private:
  const Driver& driver_;
  CUcontext previous_ = nullptr;
  bool switched_ = false;
  absl::Status status_;
};

}  // namespace accel::cuda

#endif  // ACCEL_BACKENDS_CUDA_CUDA_CONTEXT_H_
