// Validation of CUDA images (cubin, fatbin, ptx) before the driver sees them.
//
// The driver parses images without a size we can give it (cuModuleLoadData
// takes none), so a truncated image could make it read past the end of our
// copy: every table an image declares must lie inside it. Plain parsing, no
// CUDA types: tested (and fuzzed) without a GPU.
#ifndef ACCEL_BACKENDS_CUDA_CUDA_IMAGE_H_
#define ACCEL_BACKENDS_CUDA_CUDA_IMAGE_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace accel::cuda {

// A 64-bit CUDA ELF whose header tables and sections lie inside `image`.
absl::Status CheckCubin(absl::string_view image);
// A fat binary whose declared size fits `image`.
absl::Status CheckFatbin(absl::string_view image);
// Text without embedded NUL bytes (the driver takes a C string).
absl::Status CheckPtx(absl::string_view image);

}  // namespace accel::cuda

#endif  // ACCEL_BACKENDS_CUDA_CUDA_IMAGE_H_
