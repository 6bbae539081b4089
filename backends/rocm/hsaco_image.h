// Validation of hsaco images before the HIP runtime sees them.
//
// hipModuleLoadData takes no size: HIP works out how long the image is from
// its ELF (or clang offload bundle) headers, so a truncated or malformed
// image would make it read past the end of our copy. Every table, section and
// segment an image declares must therefore lie inside the bytes we have.
// No HIP types here: the checks are plain ELF parsing, unit-tested without a
// GPU or a HIP runtime.
#ifndef ACCEL_BACKENDS_ROCM_HSACO_IMAGE_H_
#define ACCEL_BACKENDS_ROCM_HSACO_IMAGE_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace accel::rocm {

// OK for a 64-bit little-endian AMDGPU ELF code object whose program header
// table, section header table, non-NOBITS sections and PT_LOAD segments all
// lie inside `image`, or for a clang offload bundle ("__CLANG_OFFLOAD_BUNDLE__")
// whose entries all lie inside `image` and whose AMDGPU entries are such code
// objects. INVALID_ARGUMENT, saying what is wrong, for anything else.
absl::Status CheckHsacoImage(absl::string_view image);

}  // namespace accel::rocm

#endif  // ACCEL_BACKENDS_ROCM_HSACO_IMAGE_H_
