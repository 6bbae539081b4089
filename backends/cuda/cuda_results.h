// Every CUDA driver result accelpool knows: its name, the canonical code it
// means and a short text of accelpool's own. The cuda backend uses it to
// describe a driver's errors; accelpool's libcuda.so.1 (clients/cuda_driver)
// to answer cuGetErrorName and cuGetErrorString. Numbers, not enumerators,
// so it compiles without cuda.h.
#ifndef ACCEL_BACKENDS_CUDA_CUDA_RESULTS_H_
#define ACCEL_BACKENDS_CUDA_CUDA_RESULTS_H_

#include "absl/status/status.h"

namespace accel::cuda {

struct CudaResultInfo {
  int value;
  const char* name;
  absl::StatusCode code;
  const char* text;
};

// nullptr for a result newer than the table.
const CudaResultInfo* FindCudaResult(int value);

}  // namespace accel::cuda

#endif  // ACCEL_BACKENDS_CUDA_CUDA_RESULTS_H_
