// The GPU image checkers under libFuzzer. They stand between a client's
// bytes and drivers that take no size, so they must never read past the
// image. The first byte picks the checker: 0 cubin, 1 fatbin, 2 ptx,
// 3 hsaco, 4 SPIR-V.
#include <cstddef>
#include <cstdint>

#include "backends/cuda/cuda_image.h"
#include "backends/levelzero/spirv_image.h"
#include "backends/rocm/hsaco_image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const absl::string_view image(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 5) {
    case 0:
      (void)accel::cuda::CheckCubin(image);
      break;
    case 1:
      (void)accel::cuda::CheckFatbin(image);
      break;
    case 2:
      (void)accel::cuda::CheckPtx(image);
      break;
    case 3:
      (void)accel::rocm::CheckHsacoImage(image);
      break;
    default:
      (void)accel::levelzero::CheckSpirv(image);
      break;
  }
  return 0;
}
