// Validation of SPIR-V images before the driver's compiler sees them: the
// header, then every instruction's word count inside the image, so that
// garbage and truncated images are a clear INVALID_ARGUMENT whatever the
// driver version. Plain parsing: tested (and fuzzed) without a GPU.
#ifndef ACCEL_BACKENDS_LEVELZERO_SPIRV_IMAGE_H_
#define ACCEL_BACKENDS_LEVELZERO_SPIRV_IMAGE_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace accel::levelzero {

absl::Status CheckSpirv(absl::string_view image);

}  // namespace accel::levelzero

#endif  // ACCEL_BACKENDS_LEVELZERO_SPIRV_IMAGE_H_
