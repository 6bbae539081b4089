// absl::Status -> CUresult, for entry points that run on accelpool's own
// code: the canonical code picks the driver result a CUDA program expects
// for that kind of failure, and the message is logged once per kind, since
// the driver API has no room for it.
#ifndef ACCEL_CLIENTS_CUDA_DRIVER_CUDA_RESULT_H_
#define ACCEL_CLIENTS_CUDA_DRIVER_CUDA_RESULT_H_

#include <cuda.h>

#include <string>

#include "absl/status/status.h"

namespace accel::cuda_driver {

CUresult ToResult(const absl::Status& status, const char* call);

// Logs "accelpool libcuda: <name> is not supported" the first time, and
// answers CUDA_ERROR_NOT_SUPPORTED.
CUresult NotSupported(const char* name);

// Logs "accelpool libcuda: <message>" the first time this message is seen:
// for what the library works around rather than fails.
void LogOnce(const std::string& message);

}  // namespace accel::cuda_driver

#endif  // ACCEL_CLIENTS_CUDA_DRIVER_CUDA_RESULT_H_
