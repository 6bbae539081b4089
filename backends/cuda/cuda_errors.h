// CUresult -> absl::Status. Every driver error maps to a canonical code, and
// the message names the call and the vendor error, e.g.
// "cuMemAlloc: CUDA_ERROR_OUT_OF_MEMORY (2): out of memory", so a user (or a
// pool client far away) can look the error up in NVIDIA's documentation.
#ifndef ACCEL_BACKENDS_CUDA_CUDA_ERRORS_H_
#define ACCEL_BACKENDS_CUDA_CUDA_ERRORS_H_

#include <cuda.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace accel::cuda {

struct Driver;

// The canonical code for a driver result.
absl::StatusCode CanonicalCode(CUresult result);

// "CUDA_ERROR_OUT_OF_MEMORY (2): out of memory". Asks the driver for the name
// and text and falls back to accelpool's own table: the toolkit's stub
// library, for one, answers neither.
std::string DescribeResult(const Driver& driver, CUresult result);

// OK for CUDA_SUCCESS, else "<call>: <DescribeResult>" with CanonicalCode.
absl::Status ToStatus(const Driver& driver, CUresult result, absl::string_view call);

// True for errors that leave the CUDA context unusable (a kernel fault, a
// lost device): every later call on the context fails with them.
bool IsContextFatal(CUresult result);

}  // namespace accel::cuda

#endif  // ACCEL_BACKENDS_CUDA_CUDA_ERRORS_H_
