// Runs saxpy on the first host device of an installed accelpool.
#include <cstdio>
#include <vector>

#include "accel/hal/hal.h"

int main() {
  namespace hal = accel::hal;
  absl::StatusOr<hal::Device> device = hal::Registry::Default().GetDevice("host:0");
  absl::StatusOr<hal::ModuleBundle> bundle = hal::ModuleBundle::ReadFile(KERNEL_BUNDLE);
  if (!device.ok() || !bundle.ok()) {
    std::fprintf(stderr, "setup failed: %s %s\n", device.status().ToString().c_str(),
                 bundle.status().ToString().c_str());
    return 1;
  }
  const uint32_t n = 4096;
  std::vector<float> x(n, 2.0f), y(n, 1.0f);
  absl::StatusOr<hal::Module> module = device->LoadModule(*bundle);
  absl::StatusOr<hal::Buffer> dx = device->Allocate(n * sizeof(float));
  absl::StatusOr<hal::Buffer> dy = device->Allocate(n * sizeof(float));
  absl::StatusOr<hal::Stream> stream = device->CreateStream();
  if (!module.ok() || !dx.ok() || !dy.ok() || !stream.ok()) return 1;
  absl::StatusOr<hal::Kernel> saxpy = module->GetKernel("saxpy");
  if (!saxpy.ok()) return 1;
  absl::Status s = stream->CopyToDevice(hal::AsBytes(absl::MakeConstSpan(x)), *dx);
  if (s.ok()) s = stream->CopyToDevice(hal::AsBytes(absl::MakeConstSpan(y)), *dy);
  if (s.ok()) s = stream->Launch(*saxpy, {{n / 256, 1, 1}, {256, 1, 1}, 0}, {*dx, *dy, 3.0f, n});
  if (s.ok()) s = stream->CopyToHost(*dy, hal::AsWritableBytes(absl::MakeSpan(y)));
  if (s.ok()) s = stream->Synchronize();
  if (!s.ok()) {
    std::fprintf(stderr, "saxpy failed: %s\n", s.ToString().c_str());
    return 1;
  }
  for (float v : y) {
    if (v != 7.0f) {
      std::fprintf(stderr, "wrong result %g\n", v);
      return 1;
    }
  }
  std::printf("installed accelpool: saxpy on %s verified\n", device->id().c_str());
  return 0;
}
