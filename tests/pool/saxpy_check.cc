#include "tests/pool/saxpy_check.h"

#include <vector>

#include "absl/strings/str_cat.h"

namespace accel::testing {

absl::Status RunSaxpy(const hal::Device& device, uint32_t n) {
  absl::StatusOr<hal::ModuleBundle> bundle = hal::ModuleBundle::ReadFile(ACCEL_TEST_KERNEL_BUNDLE);
  if (!bundle.ok()) return bundle.status();
  absl::StatusOr<hal::Module> module = device.LoadModule(*bundle);
  if (!module.ok()) return module.status();
  absl::StatusOr<hal::Kernel> saxpy = module->GetKernel("saxpy");
  if (!saxpy.ok()) return saxpy.status();
  std::vector<float> x(n, 1.5f), y(n, 2.0f);
  absl::StatusOr<hal::Buffer> dx = device.Allocate(n * 4);
  if (!dx.ok()) return dx.status();
  absl::StatusOr<hal::Buffer> dy = device.Allocate(n * 4);
  if (!dy.ok()) return dy.status();
  absl::StatusOr<hal::Stream> stream = device.CreateStream();
  if (!stream.ok()) return stream.status();
  absl::Status s = stream->CopyToDevice(hal::AsBytes(absl::MakeConstSpan(x)), *dx);
  if (s.ok()) s = stream->CopyToDevice(hal::AsBytes(absl::MakeConstSpan(y)), *dy);
  if (s.ok())
    s = stream->Launch(*saxpy, {{(n + 255) / 256, 1, 1}, {256, 1, 1}, 0}, {*dx, *dy, 2.0f, n});
  if (s.ok()) s = stream->CopyToHost(*dy, hal::AsWritableBytes(absl::MakeSpan(y)));
  if (s.ok()) s = stream->Synchronize();
  if (!s.ok()) return s;
  for (float v : y) {
    if (v != 5.0f) return absl::InternalError(absl::StrCat("saxpy gave ", v));
  }
  return absl::OkStatus();
}

}  // namespace accel::testing
