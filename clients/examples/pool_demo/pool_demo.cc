// pool-demo: leases a device from an accelpool pool and runs saxpy and sgemm
// on it remotely, verifying both on the host.
//
//   accel-pool-demo [--pool 127.0.0.1:7070] [--hold SECONDS]
//
// --hold keeps the lease for a while after the work, so `poolctl leases`
// can show it; the lease is released explicitly at the end.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "accel/client/lease.h"
#include "accel/hal/hal.h"

namespace hal = accel::hal;

namespace {

int Fail(const absl::Status& status, const char* what) {
  std::fprintf(stderr, "accel-pool-demo: %s: %s\n", what, status.ToString().c_str());
  return 1;
}

template <typename T>
absl::StatusOr<hal::Buffer> Upload(hal::Stream& stream, const hal::Device& device,
                                   const std::vector<T>& data) {
  absl::StatusOr<hal::Buffer> b = device.Allocate(data.size() * sizeof(T));
  if (!b.ok()) return b;
  absl::Status s = stream.CopyToDevice(hal::AsBytes(absl::MakeConstSpan(data)), *b);
  if (!s.ok()) return s;
  return b;
}

absl::Status Saxpy(const hal::Device& device, const hal::Module& module) {
  const uint32_t n = 1 << 20;
  absl::StatusOr<hal::Kernel> saxpy = module.GetKernel("saxpy");
  absl::StatusOr<hal::Stream> stream = device.CreateStream();
  if (!saxpy.ok()) return saxpy.status();
  if (!stream.ok()) return stream.status();
  std::vector<float> x(n), y(n), out(n);
  for (uint32_t i = 0; i < n; ++i) {
    x[i] = static_cast<float>(i % 100);
    y[i] = 1.0f;
  }
  absl::StatusOr<hal::Buffer> dx = Upload(*stream, device, x);
  if (!dx.ok()) return dx.status();
  absl::StatusOr<hal::Buffer> dy = Upload(*stream, device, y);
  if (!dy.ok()) return dy.status();
  absl::Status s = stream->Launch(*saxpy, {{n / 256, 1, 1}, {256, 1, 1}, 0}, {*dx, *dy, 3.0f, n});
  if (s.ok()) s = stream->CopyToHost(*dy, hal::AsWritableBytes(absl::MakeSpan(out)));
  if (s.ok()) s = stream->Synchronize();
  if (!s.ok()) return s;
  for (uint32_t i = 0; i < n; ++i) {
    if (out[i] != 3.0f * x[i] + 1.0f) return absl::InternalError("saxpy result mismatch");
  }
  std::printf("saxpy: %u elements verified\n", n);
  return absl::OkStatus();
}

absl::Status Sgemm(const hal::Device& device, const hal::Module& module) {
  const uint32_t m = 192, n = 160, k = 128;
  absl::StatusOr<hal::Kernel> sgemm = module.GetKernel("sgemm");
  absl::StatusOr<hal::Stream> stream = device.CreateStream();
  if (!sgemm.ok()) return sgemm.status();
  if (!stream.ok()) return stream.status();
  std::vector<float> a(m * k), b(k * n), c(m * n, 0.0f), out(m * n);
  for (uint32_t i = 0; i < m * k; ++i) a[i] = static_cast<float>(i % 7) - 3;
  for (uint32_t i = 0; i < k * n; ++i) b[i] = static_cast<float>(i % 5) - 2;
  absl::StatusOr<hal::Buffer> da = Upload(*stream, device, a);
  if (!da.ok()) return da.status();
  absl::StatusOr<hal::Buffer> db = Upload(*stream, device, b);
  if (!db.ok()) return db.status();
  absl::StatusOr<hal::Buffer> dc = Upload(*stream, device, c);
  if (!dc.ok()) return dc.status();
  absl::Status s = stream->Launch(*sgemm, {{n / 16, m / 16, 1}, {16, 16, 1}, 0},
                                  {*da, *db, *dc, m, n, k, 1.0f, 0.0f});
  if (s.ok()) s = stream->CopyToHost(*dc, hal::AsWritableBytes(absl::MakeSpan(out)));
  if (s.ok()) s = stream->Synchronize();
  if (!s.ok()) return s;
  for (uint32_t r = 0; r < m; ++r) {
    for (uint32_t col = 0; col < n; ++col) {
      float sum = 0;
      for (uint32_t i = 0; i < k; ++i) sum += a[r * k + i] * b[i * n + col];
      if (std::fabs(out[r * n + col] - sum) > 1e-3f) {
        return absl::InternalError("sgemm result mismatch");
      }
    }
  }
  std::printf("sgemm: %ux%ux%u verified\n", m, n, k);
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  std::string pool =
      std::getenv("ACCEL_POOL") != nullptr ? std::getenv("ACCEL_POOL") : "127.0.0.1:7070";
  int hold_seconds = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--pool") == 0) {
      pool = argv[i + 1];
    } else if (std::strcmp(argv[i], "--hold") == 0) {
      hold_seconds = std::atoi(argv[i + 1]);
    } else {
      std::fprintf(stderr, "usage: accel-pool-demo [--pool ADDR] [--hold SECONDS]\n");
      return 2;
    }
  }
  absl::StatusOr<std::unique_ptr<accel::client::Lease>> lease =
      accel::client::AcquireLease(pool, {});
  if (!lease.ok()) return Fail(lease.status(), "lease");
  const hal::Device& device = (*lease)->devices()[0];
  std::printf("leased %s: %s (%s, %s)\n", (*lease)->id().c_str(), device.properties().name.c_str(),
              device.properties().vendor.c_str(), device.properties().arch.c_str());

  absl::StatusOr<hal::ModuleBundle> bundle =
      hal::ModuleBundle::ReadFile(hal::Registry::DataDirectory() + "/kernels/accel_kernels.bundle");
  if (!bundle.ok()) return Fail(bundle.status(), "kernel bundle");
  absl::StatusOr<hal::Module> module = device.LoadModule(*bundle);
  if (!module.ok()) return Fail(module.status(), "load module");
  if (absl::Status s = Saxpy(device, *module); !s.ok()) return Fail(s, "saxpy");
  if (absl::Status s = Sgemm(device, *module); !s.ok()) return Fail(s, "sgemm");

  if (hold_seconds > 0) {
    // Some memory in use, so the operator's view has something to show.
    absl::StatusOr<hal::Buffer> held = device.Allocate(64 << 20);
    if (!held.ok()) return Fail(held.status(), "allocate");
    // Allocation is pipelined; this query is answered after it, so the pool
    // reports the memory in use by the time the line below is printed.
    absl::StatusOr<hal::MemoryInfo> memory = device.GetMemoryInfo();
    if (!memory.ok()) return Fail(memory.status(), "memory info");
    std::printf("holding the lease with 64 MiB allocated for %d s\n", hold_seconds);
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::seconds(hold_seconds));
  }
  if (absl::Status s = (*lease)->Release(); !s.ok()) return Fail(s, "release");
  std::printf("released %s\n", (*lease)->id().c_str());
  return 0;
}
