// What the HAL costs on an NVIDIA GPU, measured against the raw CUDA driver
// API in the same process and run:
//   - per-launch time of an empty kernel (HAL Stream::Launch vs cuLaunchKernel),
//   - host<->device copy bandwidth, pinned and pageable host memory
//     (HAL Stream::CopyToDevice/CopyToHost vs cuMemcpyHtoDAsync/DtoHAsync).
// Each line prints both and their ratio (HAL / raw; 1.00 is no overhead).
// Exits 0 with a message when there is no CUDA device, so scripts can run it
// anywhere.
//
//   cuda_overhead_bench [KERNEL_BUNDLE]   (default: this build's kernel set)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "accel/hal/hal.h"
#include "cuda_driver.h"
#include "cuda_errors.h"

namespace {

namespace hal = accel::hal;
namespace cuda = accel::cuda;
using Clock = std::chrono::steady_clock;

constexpr int kLaunchWarmup = 2000;
constexpr int kLaunches = 50000;
constexpr uint64_t kCopyBytes = 64ull << 20;
constexpr int kCopyRepeats = 20;

#define BENCH_CHECK(expr)                                                       \
  do {                                                                          \
    absl::Status bench_status = (expr);                                         \
    if (!bench_status.ok()) {                                                   \
      std::fprintf(stderr, "%s: %s\n", #expr, bench_status.ToString().c_str()); \
      std::exit(1);                                                             \
    }                                                                           \
  } while (0)
#define CU_CHECK(driver, call) BENCH_CHECK(cuda::ToStatus(driver, (driver).call, #call))

double Seconds(Clock::time_point begin) {
  return std::chrono::duration<double>(Clock::now() - begin).count();
}

// Best of three: the least disturbed measurement of `body` (seconds).
template <typename F>
double BestOf3(F body) {
  double best = 1e30;
  for (int i = 0; i < 3; ++i) best = std::min(best, body());
  return best;
}

void Report(const char* what, double hal_value, double raw_value, const char* unit) {
  std::printf("%-34s HAL %10.3f %-5s raw %10.3f %-5s HAL/raw %5.2f\n", what, hal_value, unit,
              raw_value, unit, hal_value / raw_value);
}

}  // namespace

int main(int argc, char** argv) {
  cuda::DriverLoadResult loaded = cuda::LoadDriver();
  if (loaded.driver == nullptr) {
    std::printf("cuda_overhead_bench: skipped: %s\n", loaded.unavailable_reason.c_str());
    return 0;
  }
  const cuda::Driver& cu = *loaded.driver;

  absl::StatusOr<hal::Device> device = hal::Registry::Default().GetDevice("cuda:0");
  if (!device.ok()) {
    std::printf("cuda_overhead_bench: skipped: no HAL device cuda:0: %s\n",
                device.status().ToString().c_str());
    return 0;
  }
  const hal::DeviceProperties& props = device->properties();
  std::printf("device: %s (%s, %s), driver %d, %s\n", props.name.c_str(), props.arch.c_str(),
              props.pci_bus_id.c_str(), cu.driver_version, cu.library.c_str());

  absl::StatusOr<hal::ModuleBundle> bundle =
      hal::ModuleBundle::ReadFile(argc > 1 ? argv[1] : ACCEL_BENCH_KERNEL_BUNDLE);
  BENCH_CHECK(bundle.status());
  absl::StatusOr<hal::Module> module = device->LoadModule(*bundle);
  BENCH_CHECK(module.status());
  absl::StatusOr<hal::Kernel> empty = module->GetKernel("empty");
  BENCH_CHECK(empty.status());
  absl::StatusOr<hal::Stream> stream = device->CreateStream();
  BENCH_CHECK(stream.status());

  // The raw side: same device (primary context), same image format and arch.
  CUdevice dev = 0;
  CUcontext ctx = nullptr;
  CU_CHECK(cu, cuDeviceGet(&dev, 0));
  CU_CHECK(cu, cuDevicePrimaryCtxRetain(&ctx, dev));
  CU_CHECK(cu, cuCtxSetCurrent(ctx));
  const hal::ModuleBundle::Image* image = nullptr;
  for (const hal::ModuleBundle::Image& i : bundle->images()) {
    if (i.format == module->format() &&
        (i.format != hal::ImageFormat::kCubin || i.arch == props.arch)) {
      image = &i;
      break;
    }
  }
  if (image == nullptr) {
    std::fprintf(stderr, "no raw image matching the HAL's choice\n");
    return 1;
  }
  std::string image_copy = image->bytes;  // NUL-terminated for PTX
  CUmodule raw_module = nullptr;
  CUfunction raw_empty = nullptr;
  CUstream raw_stream = nullptr;
  CU_CHECK(cu, cuModuleLoadData(&raw_module, image_copy.c_str()));
  CU_CHECK(cu, cuModuleGetFunction(&raw_empty, raw_module, "empty"));
  CU_CHECK(cu, cuStreamCreate(&raw_stream, CU_STREAM_NON_BLOCKING));
  std::printf("kernel image: %s %s\n\n", std::string(hal::ImageFormatName(image->format)).c_str(),
              image->arch.c_str());

  // --- launch overhead ------------------------------------------------------
  const hal::LaunchConfig one{{1, 1, 1}, {1, 1, 1}, 0};
  auto hal_launches = [&](int n) {
    Clock::time_point begin = Clock::now();
    for (int i = 0; i < n; ++i) BENCH_CHECK(stream->Launch(*empty, one, {}));
    BENCH_CHECK(stream->Synchronize());
    return Seconds(begin);
  };
  auto raw_launches = [&](int n) {
    Clock::time_point begin = Clock::now();
    for (int i = 0; i < n; ++i) {
      CU_CHECK(cu, cuLaunchKernel(raw_empty, 1, 1, 1, 1, 1, 1, 0, raw_stream, nullptr, nullptr));
    }
    CU_CHECK(cu, cuStreamSynchronize(raw_stream));
    return Seconds(begin);
  };
  hal_launches(kLaunchWarmup);
  raw_launches(kLaunchWarmup);
  double hal_us = BestOf3([&] { return hal_launches(kLaunches); }) / kLaunches * 1e6;
  double raw_us = BestOf3([&] { return raw_launches(kLaunches); }) / kLaunches * 1e6;
  Report("empty kernel, per launch", hal_us, raw_us, "us");

  // --- copy bandwidth ---------------------------------------------------------
  absl::StatusOr<hal::Buffer> buffer = device->Allocate(kCopyBytes);
  BENCH_CHECK(buffer.status());
  CUdeviceptr raw_buffer = 0;
  CU_CHECK(cu, cuMemAlloc(&raw_buffer, kCopyBytes));
  std::vector<std::byte> pageable(kCopyBytes, std::byte{1});
  void* pinned_ptr = nullptr;
  bool have_pinned =
      cu.cuMemAllocHost != nullptr && cu.cuMemAllocHost(&pinned_ptr, kCopyBytes) == CUDA_SUCCESS;
  struct HostMemory {
    const char* name;
    std::byte* data;
  };
  std::vector<HostMemory> kinds = {{"pageable", pageable.data()}};
  if (have_pinned) kinds.insert(kinds.begin(), {"pinned", static_cast<std::byte*>(pinned_ptr)});

  auto gbps = [](double seconds) { return kCopyBytes * kCopyRepeats / seconds / 1e9; };
  for (const HostMemory& host : kinds) {
    absl::Span<std::byte> span(host.data, kCopyBytes);
    auto hal_h2d = [&] {
      Clock::time_point begin = Clock::now();
      for (int i = 0; i < kCopyRepeats; ++i) BENCH_CHECK(stream->CopyToDevice(span, *buffer));
      BENCH_CHECK(stream->Synchronize());
      return Seconds(begin);
    };
    auto raw_h2d = [&] {
      Clock::time_point begin = Clock::now();
      for (int i = 0; i < kCopyRepeats; ++i) {
        CU_CHECK(cu, cuMemcpyHtoDAsync(raw_buffer, host.data, kCopyBytes, raw_stream));
      }
      CU_CHECK(cu, cuStreamSynchronize(raw_stream));
      return Seconds(begin);
    };
    auto hal_d2h = [&] {
      Clock::time_point begin = Clock::now();
      for (int i = 0; i < kCopyRepeats; ++i) BENCH_CHECK(stream->CopyToHost(*buffer, span));
      BENCH_CHECK(stream->Synchronize());
      return Seconds(begin);
    };
    auto raw_d2h = [&] {
      Clock::time_point begin = Clock::now();
      for (int i = 0; i < kCopyRepeats; ++i) {
        CU_CHECK(cu, cuMemcpyDtoHAsync(host.data, raw_buffer, kCopyBytes, raw_stream));
      }
      CU_CHECK(cu, cuStreamSynchronize(raw_stream));
      return Seconds(begin);
    };
    hal_h2d();  // warm up: first touch, staging buffers
    raw_h2d();
    Report(absl::StrCat("H2D 64 MiB, ", host.name).c_str(), gbps(BestOf3(hal_h2d)),
           gbps(BestOf3(raw_h2d)), "GB/s");
    Report(absl::StrCat("D2H 64 MiB, ", host.name).c_str(), gbps(BestOf3(hal_d2h)),
           gbps(BestOf3(raw_d2h)), "GB/s");
  }
  if (!have_pinned) std::printf("(no pinned memory: cuMemAllocHost unavailable)\n");

  if (have_pinned) cu.cuMemFreeHost(pinned_ptr);
  cu.cuMemFree(raw_buffer);
  cu.cuStreamDestroy(raw_stream);
  cu.cuModuleUnload(raw_module);
  cu.cuDevicePrimaryCtxRelease(dev);
  return 0;
}
