// hipError_t to absl::Status: every HIP error becomes a canonical code, and
// the message keeps HIP's own name and number so a user can look it up, e.g.
// "hipMalloc: hipErrorOutOfMemory (2): out of memory".
#ifndef ACCEL_BACKENDS_ROCM_HIP_ERROR_H_
#define ACCEL_BACKENDS_ROCM_HIP_ERROR_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "hip_api.h"

namespace accel::rocm {

// The canonical code for a HIP error (kOk for hipSuccess).
absl::StatusCode CodeOf(hipError_t error);

// "hipErrorOutOfMemory (2): out of memory", with HIP's name and description.
std::string Describe(const HipApi& api, hipError_t error);

// OK for hipSuccess, else "<call>: <Describe(error)>" with CodeOf(error).
absl::Status HipStatus(const HipApi& api, hipError_t error, absl::string_view call);

}  // namespace accel::rocm

#endif  // ACCEL_BACKENDS_ROCM_HIP_ERROR_H_
