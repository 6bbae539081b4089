// saxpy: y = a * x + y on any accelpool device, verified on the host.
//
//   accel-saxpy [--device host:0|any] [--n 1048576] [--bundle PATH]
//
// The same binary runs on a local CPU device, a GPU, or (with the client SDK)
// a device leased from the pool: the bundle holds the kernel for each.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "accel/hal/hal.h"

namespace hal = accel::hal;

namespace {

int Fail(const absl::Status& status, const char* what) {
  std::fprintf(stderr, "accel-saxpy: %s: %s\n", what, status.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string device_id = "any";
  uint32_t n = 1 << 20;
  std::string bundle_path = hal::Registry::DataDirectory() + "/kernels/accel_kernels.bundle";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--device") == 0) {
      device_id = argv[i + 1];
    } else if (std::strcmp(argv[i], "--n") == 0) {
      n = static_cast<uint32_t>(std::strtoul(argv[i + 1], nullptr, 10));
    } else if (std::strcmp(argv[i], "--bundle") == 0) {
      bundle_path = argv[i + 1];
    } else {
      std::fprintf(stderr, "usage: accel-saxpy [--device ID] [--n N] [--bundle PATH]\n");
      return 2;
    }
  }
  if (n == 0) return Fail(absl::InvalidArgumentError("--n must be positive"), "arguments");

  absl::StatusOr<hal::Device> device = hal::Registry::Default().GetDevice(device_id);
  if (!device.ok()) return Fail(device.status(), "device");
  absl::StatusOr<hal::ModuleBundle> bundle = hal::ModuleBundle::ReadFile(bundle_path);
  if (!bundle.ok()) return Fail(bundle.status(), "kernel bundle");
  absl::StatusOr<hal::Module> module = device->LoadModule(*bundle);
  if (!module.ok()) return Fail(module.status(), "load module");
  absl::StatusOr<hal::Kernel> saxpy = module->GetKernel("saxpy");
  if (!saxpy.ok()) return Fail(saxpy.status(), "kernel");

  std::vector<float> x(n), y(n), result(n);
  for (uint32_t i = 0; i < n; ++i) {
    x[i] = static_cast<float>(i % 1000) * 0.5f;
    y[i] = static_cast<float>(i % 7);
  }
  const float a = 2.5f;
  const uint64_t bytes = uint64_t{n} * sizeof(float);
  absl::StatusOr<hal::Buffer> dx = device->Allocate(bytes);
  if (!dx.ok()) return Fail(dx.status(), "allocate x");
  absl::StatusOr<hal::Buffer> dy = device->Allocate(bytes);
  if (!dy.ok()) return Fail(dy.status(), "allocate y");
  absl::StatusOr<hal::Stream> stream = device->CreateStream();
  if (!stream.ok()) return Fail(stream.status(), "stream");

  // Everything is queued without waiting; the stream runs it in order.
  const uint32_t block = 256;
  hal::LaunchConfig config{{(n + block - 1) / block, 1, 1}, {block, 1, 1}, 0};
  absl::Status status = stream->CopyToDevice(hal::AsBytes(absl::MakeConstSpan(x)), *dx);
  if (status.ok()) status = stream->CopyToDevice(hal::AsBytes(absl::MakeConstSpan(y)), *dy);
  if (status.ok()) status = stream->Launch(*saxpy, config, {*dx, *dy, a, n});
  if (status.ok()) status = stream->CopyToHost(*dy, hal::AsWritableBytes(absl::MakeSpan(result)));
  if (status.ok()) status = stream->Synchronize();
  if (!status.ok()) return Fail(status, "saxpy");

  for (uint32_t i = 0; i < n; ++i) {
    float expected = a * x[i] + y[i];
    if (std::fabs(result[i] - expected) > 1e-5f * std::fabs(expected) + 1e-6f) {
      std::fprintf(stderr, "accel-saxpy: mismatch at %u: got %g, want %g\n", i, result[i],
                   expected);
      return 1;
    }
  }
  std::printf("saxpy on %s (%s): %u elements verified, y[%u] = %g\n", device->id().c_str(),
              device->properties().name.c_str(), n, n - 1, result[n - 1]);
  return 0;
}
