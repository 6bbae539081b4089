#include "cuda_memory.h"

#include "cuda_context.h"
#include "cuda_device.h"

namespace accel::cuda {

CudaBuffer::~CudaBuffer() {
  if (ownership_ == Ownership::kModuleGlobal) return;
  const Driver& driver = device_.driver();
  ContextGuard guard(driver, device_.context());
  // buffer_free has no way to report an error; a context that cannot be
  // made current is lost, and its memory with it.
  if (!guard.ok()) return;
  CUdeviceptr ptr = ptr_;
  // cuMemFree can only fail for a bad pointer (not ours to have) or with an
  // earlier asynchronous error of the context, which the streams report.
  device_.releases().Release([&driver, ptr] { driver.cuMemFree(ptr); });
}

}  // namespace accel::cuda
